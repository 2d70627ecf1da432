-- wrk script: POST /transfers between two random accounts of ACCOUNTS
-- (default 100) named <PREFIX><i> (the accounts http_bench.sh or
-- scripts/run.sh --demo opened), of 1 to MAX_CENTS cents (default 1).
local accounts = tonumber(os.getenv("ACCOUNTS") or "100")
local max_cents = tonumber(os.getenv("MAX_CENTS") or "1")
local prefix = os.getenv("PREFIX") or "h"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(seed * 7919)
end

request = function()
  local a = math.random(0, accounts - 1)
  local b = (a + math.random(1, accounts - 1)) % accounts
  local body = string.format('{"from":"%s%d","to":"%s%d","amount_cents":%d}', prefix, a, prefix, b,
                             math.random(1, max_cents))
  return wrk.format("POST", "/transfers", {["Content-Type"] = "application/json"}, body)
end
