// The outbox's prepared-statement cache: statements are reused on adopted connections only,
// a nested use of the same SQL gets a statement of its own, and a reused one starts clean.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>

#include "shared/outbox/statement_cache.h"

namespace {

using smsm::statement_cache::adopt;
using smsm::statement_cache::forget;
using smsm::statement_cache::give_back;
using smsm::statement_cache::take;

std::unique_ptr<sqlite3, decltype(&sqlite3_close)> memory_db() {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    return {db, &sqlite3_close};  // sqlite3_close fails while a statement is left unfinalized
}

}  // namespace

TEST_CASE("statement cache: reused on an adopted connection, with fresh bindings") {
    auto db = memory_db();
    adopt(db.get());
    const std::string sql = "SELECT ?1";
    sqlite3_stmt* first = take(db.get(), sql);
    REQUIRE(first != nullptr);
    sqlite3_bind_int(first, 1, 42);
    REQUIRE(sqlite3_step(first) == SQLITE_ROW);
    give_back(db.get(), sql, first);

    sqlite3_stmt* again = take(db.get(), sql);
    CHECK(again == first);
    REQUIRE(sqlite3_step(again) == SQLITE_ROW);
    CHECK(sqlite3_column_type(again, 0) == SQLITE_NULL);  // the old binding is gone

    sqlite3_stmt* nested = take(db.get(), sql);  // the same SQL while `again` is in use
    CHECK(nested != again);
    give_back(db.get(), sql, nested);
    give_back(db.get(), sql, again);
    forget(db.get());
    CHECK(sqlite3_close(db.release()) == SQLITE_OK);  // forget finalized every kept statement
}

TEST_CASE("statement cache: a connection not adopted keeps nothing") {
    auto db = memory_db();
    const std::string sql = "SELECT 1";
    sqlite3_stmt* st = take(db.get(), sql);
    REQUIRE(st != nullptr);
    give_back(db.get(), sql, st);  // finalized at once
    CHECK(sqlite3_next_stmt(db.get(), nullptr) == nullptr);
    CHECK(take(db.get(), "SELECT FROM nowhere") == nullptr);
    CHECK(sqlite3_close(db.release()) == SQLITE_OK);
}
