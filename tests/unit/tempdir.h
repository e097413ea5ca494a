// A temporary directory for one test, removed with everything in it afterwards.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace smsm::test {

class TempDir {
  public:
    TempDir() {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "sms-milter-test.XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data()) ? tmpl : throw std::runtime_error("mkdtemp failed");
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // Writes a file below the directory and returns its full path.
    std::string write(const std::string& name, const std::string& content,
                      mode_t mode = 0600) const {
        std::string p = path_ + "/" + name;
        std::ofstream(p) << content;
        ::chmod(p.c_str(), mode);
        return p;
    }

  private:
    std::string path_;
};

}  // namespace smsm::test
