// Group commit: callers on many threads each hand in a piece of work that must be made
// durable; whoever finds no commit in progress becomes the leader and commits everything
// queued so far in one go (one transaction, one fsync), while later callers queue up for the
// next round. Under concurrency N end-of-message replies share one fsync instead of taking
// turns for N of them; alone, a caller commits at once, as before.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

namespace smsm {

template <typename Request, typename Result>
class GroupCommit {
  public:
    struct Item {
        const Request* request;
        std::optional<Result> result;  // set by the batch function, or error
        std::exception_ptr error;
    };
    // Commits one batch: sets each item's result or error. An exception it throws becomes
    // every unanswered item's error.
    using BatchFn = std::function<void(std::vector<Item*>&)>;

    Result submit(const Request& request, const BatchFn& commit) {
        Item me{&request, std::nullopt, nullptr};
        std::unique_lock lock(mutex_);
        queue_.push_back(&me);
        const std::uint64_t round = done_round_ + 1 + (leader_ ? 1 : 0);
        while (done_round_ < round) {
            if (leader_) {
                cv_.wait(lock);
                continue;
            }
            leader_ = true;
            std::vector<Item*> batch;
            batch.swap(queue_);
            lock.unlock();
            try {
                commit(batch);
            } catch (...) {
                for (Item* item : batch)
                    if (!item->result && !item->error) item->error = std::current_exception();
            }
            lock.lock();
            leader_ = false;
            ++done_round_;
            cv_.notify_all();
        }
        if (me.error) std::rethrow_exception(me.error);
        return std::move(*me.result);
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Item*> queue_;
    bool leader_ = false;
    std::uint64_t done_round_ = 0;  // rounds committed so far
};

}  // namespace smsm
