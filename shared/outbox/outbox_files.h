// The outbox's files in state_directory (outbox.db and SQLite's -wal, -shm and -journal next
// to it), prepared before SQLite opens them and checked once it has.
//
// Security: the outbox holds SMS text, numbers and senders. The directory is created 0700 and
// outbox.db 0600 whatever the umask (SQLite gives -wal, -shm and -journal the database's
// mode), and existing files that group or others could read are brought to 0600: outside
// systemd's UMask=0077 a umask of 022 once left them 0644.
//
// Loss: SQLite takes a missing or empty (0 bytes) outbox.db for a new outbox, so a truncated
// or deleted file would start the daemon with the queued SMS gone without a word. Once an
// outbox exists, outbox.created says so; while it is there, a missing or empty outbox.db, or
// one without the outbox's tables, stops the start with the way out (restore the file, or
// delete outbox.created to start afresh). A damaged database (SQLite's quick_check) stops it
// too.
#pragma once

#include <string>

struct sqlite3;

namespace smsm {

class OutboxFiles {
  public:
    // Refuses (std::runtime_error) a missing or emptied outbox.db where outbox.created says an
    // outbox existed, and a lone -wal file beside a missing or empty one. Then creates the
    // directory (0700) and outbox.db (0600) when missing and makes existing outbox files 0600
    // (a warning says so). Errors name the file.
    explicit OutboxFiles(const std::string& state_directory);

    const std::string& db_path() const { return db_; }

    // Once SQLite has opened db_path(): PRAGMA quick_check, and the outbox's tables where
    // outbox.created says there was an outbox. Throws std::runtime_error with the way out.
    void check(sqlite3* db) const;

    // Once the schema is there: writes outbox.created (0600, synced) unless it exists.
    void mark_created() const;

  private:
    std::string dir_;
    std::string db_;
    std::string marker_;
    bool marked_ = false;  // outbox.created was there
};

}  // namespace smsm
