// Prepared statements kept for reuse, per SQLite connection and SQL text. The outbox runs the
// same few dozen statements for every message; preparing one (SQLite's parser and code
// generator) costs more than running it. Only connections the outbox adopts are cached: a
// connection opened for one look (queue, render) prepares as before, so no statement can
// outlive its connection or be handed to another one at the same address.
#pragma once

#include <sqlite3.h>

#include <string>

namespace smsm::statement_cache {

// From now on statements on db are kept (until forget).
void adopt(sqlite3* db);
// Finalizes db's kept statements; call before closing it.
void forget(sqlite3* db);
// A statement for sql on db: a kept one if db is adopted and one is free, else a new one
// (nullptr on a prepare error, with sqlite3_errmsg(db) saying why).
sqlite3_stmt* take(sqlite3* db, const std::string& sql);
// Resets st and keeps it for the next take, or finalizes it if db is not adopted.
void give_back(sqlite3* db, const std::string& sql, sqlite3_stmt* st);

}  // namespace smsm::statement_cache
