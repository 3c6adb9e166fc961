// A thread-safe cache of decoded images with a byte limit, least recently used out first.
// Several threads asking for the same missing key wait for one decode instead of decoding
// twice; a failed decode is not cached and its exception reaches every waiter.
// An image larger than the whole limit is returned but not kept. Limit 0 disables caching.
//
// LAYOUT: values are uint8 HWC images (data/image.h); their bytes() count against the limit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "data/image.h"

namespace srgan::data {

class ImageCache {
 public:
  using ImagePtr = std::shared_ptr<const Image>;
  using Loader = std::function<Image()>;

  explicit ImageCache(size_t byte_limit) : limit_(byte_limit) {}

  // The cached image for `key`, or load() it (outside the lock), keep it and return it.
  ImagePtr get(const std::string& key, const Loader& load);

  struct Stats {
    uint64_t hits = 0, misses = 0, evictions = 0;
    size_t bytes = 0, entries = 0, limit = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    ImagePtr img;
    std::list<std::string>::iterator lru_pos;
  };
  void insert_locked(const std::string& key, const ImagePtr& img);

  const size_t limit_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;  // front = most recently used
  std::unordered_map<std::string, Entry> map_;
  std::unordered_map<std::string, std::shared_future<ImagePtr>> inflight_;
  size_t bytes_ = 0;
  Stats stats_;
};

}  // namespace srgan::data
