// The outbox's files in state_directory (outbox.db and SQLite's -wal, -shm and -journal next
// to it), prepared before SQLite opens them.
//
// Security: the outbox holds SMS text, numbers and senders. The directory is created 0700 and
// outbox.db 0600 whatever the umask (SQLite gives -wal, -shm and -journal the database's
// mode), and existing files that group or others could read are brought to 0600: outside
// systemd's UMask=0077 a umask of 022 once left them 0644.
#pragma once

#include <string>

namespace smsm {

class OutboxFiles {
  public:
    // Creates the directory (0700) and outbox.db (0600) when missing; makes existing outbox
    // files 0600 (a warning says so). Throws std::runtime_error naming the file.
    explicit OutboxFiles(const std::string& state_directory);

    const std::string& db_path() const { return db_; }

  private:
    std::string dir_;
    std::string db_;
};

}  // namespace smsm
