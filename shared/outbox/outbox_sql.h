// Internals shared by the outbox's source files: Stmt, a prepared SQLite statement (RAII, kept
// for reuse on the outbox's own connections: statement_cache.h) whose every failure becomes a
// std::runtime_error naming the SQLite error, and time as the outbox stores it (unix seconds).
#pragma once

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "shared/base/clock.h"
#include "shared/outbox/outbox.h"
#include "shared/outbox/statement_cache.h"

namespace smsm {

class Stmt {
  public:
    Stmt(sqlite3* db, std::string sql)
        : db_(db), sql_(std::move(sql)), st_(statement_cache::take(db, sql_)) {
        if (st_ == nullptr) throw std::runtime_error(fmt::format("outbox: {}", sqlite3_errmsg(db)));
    }
    ~Stmt() { statement_cache::give_back(db_, sql_, st_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;

    Stmt& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(st_, i, v)); }
    Stmt& bind(int i, const std::string& v) {
        return check(
            sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    // Returns true while there is a row.
    bool step() {
        int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw std::runtime_error(fmt::format("outbox: {}", sqlite3_errmsg(db_)));
    }
    // Runs a statement that returns no rows; the number of rows it changed.
    int run() {
        while (step()) {
        }
        return sqlite3_changes(db_);
    }
    bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
    std::int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }
    std::string text(int col) const {
        auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
                 : std::string();
    }

  private:
    Stmt& check(int rc) {
        if (rc != SQLITE_OK)
            throw std::runtime_error(fmt::format("outbox: {}", sqlite3_errmsg(db_)));
        return *this;
    }
    sqlite3* db_;
    std::string sql_;
    sqlite3_stmt* st_ = nullptr;
};

// The jobs table's columns as read_job() reads them (outbox.cpp).
extern const char* const kJobColumns;
Job read_job(const Stmt& s);

}  // namespace smsm
