// Prepared statements kept for reuse per adopted connection (statement_cache.h).
#include "shared/outbox/statement_cache.h"

#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace smsm::statement_cache {

namespace {

// Free statements by SQL text. A statement in use is in no list: a nested Stmt with the same
// text (a query inside a loop over another) gets one of its own.
using Kept = std::unordered_map<std::string, std::vector<sqlite3_stmt*>>;

std::mutex mutex;
std::map<sqlite3*, Kept>& connections() {
    static auto* all = new std::map<sqlite3*, Kept>;  // never destroyed: used until exit
    return *all;
}

}  // namespace

void adopt(sqlite3* db) {
    std::lock_guard lock(mutex);
    connections().try_emplace(db);
}

void forget(sqlite3* db) {
    Kept kept;
    {
        std::lock_guard lock(mutex);
        auto it = connections().find(db);
        if (it == connections().end()) return;
        kept.swap(it->second);
        connections().erase(it);
    }
    for (auto& [sql, free] : kept)
        for (sqlite3_stmt* st : free) sqlite3_finalize(st);
}

sqlite3_stmt* take(sqlite3* db, const std::string& sql) {
    {
        std::lock_guard lock(mutex);
        auto it = connections().find(db);
        if (it != connections().end()) {
            auto free = it->second.find(sql);
            if (free != it->second.end() && !free->second.empty()) {
                sqlite3_stmt* st = free->second.back();
                free->second.pop_back();
                return st;
            }
        }
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &st, nullptr) != SQLITE_OK) {
        sqlite3_finalize(st);
        return nullptr;
    }
    return st;
}

void give_back(sqlite3* db, const std::string& sql, sqlite3_stmt* st) {
    if (st == nullptr) return;
    sqlite3_reset(st);  // its error, if the last step failed, was reported then
    sqlite3_clear_bindings(st);
    {
        std::lock_guard lock(mutex);
        auto it = connections().find(db);
        if (it != connections().end()) {
            it->second[sql].push_back(st);
            return;
        }
    }
    sqlite3_finalize(st);
}

}  // namespace smsm::statement_cache
