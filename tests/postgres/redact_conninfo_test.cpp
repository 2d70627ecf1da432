#include <catch2/catch.hpp>

#include "eventcore/store/postgres_store.hpp"

using eventcore::redact_conninfo;

TEST_CASE("redact_conninfo hides the password of a key=value connection string") {
  CHECK(redact_conninfo("host=db port=5433 user=app password=s3cret dbname=events") ==
        "host=db port=5433 user=app password=*** dbname=events");
  CHECK(redact_conninfo("password = 's3 cr\\'et' host=db") == "password = *** host=db");
  CHECK(redact_conninfo("host=db") == "host=db");
  CHECK(redact_conninfo("") == "");
}

TEST_CASE("redact_conninfo hides the password of a URI") {
  CHECK(redact_conninfo("postgresql://app:s3cret@db:5433/events") == "postgresql://app:***@db:5433/events");
  CHECK(redact_conninfo("postgres://app@db/events?password=s3cret&sslmode=disable") ==
        "postgres://app@db/events?password=***&sslmode=disable");
  CHECK(redact_conninfo("postgresql://app:s3cret@h1:1,h2:2/db?connect_timeout=3") ==
        "postgresql://app:***@h1:1,h2:2/db?connect_timeout=3");
  CHECK(redact_conninfo("postgresql://db") == "postgresql://db");
}

TEST_CASE("redact_conninfo hides a password inside a dbname that is itself a connection string") {
  CHECK(redact_conninfo("dbname='postgresql://app:s3cret@db/events'") ==
        "dbname='postgresql://app:***@db/events'");
}

TEST_CASE("redact_conninfo hides whatever follows a part it cannot parse") {
  const auto redacted = redact_conninfo("host=db password s3cret");
  CHECK(redacted.find("s3cret") == std::string::npos);
  CHECK(redacted.find("host=db") == 0);
  CHECK(redact_conninfo("host=db password='s3cret").find("s3cret") == std::string::npos);
}

TEST_CASE("redact_conninfo hides every keyword libpq treats as a secret, sslpassword too") {
  CHECK(redact_conninfo("host=db sslpassword=k3y sslmode=require") == "host=db sslpassword=*** sslmode=require");
  CHECK(redact_conninfo("postgresql://app:pw@db/events?sslpassword=k3y&sslmode=require") ==
        "postgresql://app:***@db/events?sslpassword=***&sslmode=require");
}
