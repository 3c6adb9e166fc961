// LRU image cache with a byte limit and single-flight loading (see data/image_cache.h).
#include "data/image_cache.h"

namespace srgan::data {

ImageCache::ImagePtr ImageCache::get(const std::string& key, const Loader& load) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it != map_.end()) {
    ++stats_.hits;
    lru_.splice(lru_.begin(), lru_, it->second.lru_pos);
    return it->second.img;
  }
  auto fl = inflight_.find(key);
  if (fl != inflight_.end()) {  // someone is decoding it: wait for that
    ++stats_.hits;
    std::shared_future<ImagePtr> f = fl->second;
    lock.unlock();
    return f.get();  // rethrows the loader's exception
  }
  ++stats_.misses;
  std::promise<ImagePtr> promise;
  inflight_[key] = promise.get_future().share();
  lock.unlock();

  ImagePtr img;
  try {
    img = std::make_shared<const Image>(load());
  } catch (...) {
    lock.lock();
    inflight_.erase(key);
    promise.set_exception(std::current_exception());
    throw;
  }
  lock.lock();
  inflight_.erase(key);
  insert_locked(key, img);
  promise.set_value(img);
  return img;
}

void ImageCache::insert_locked(const std::string& key, const ImagePtr& img) {
  const size_t b = img->bytes();
  if (b > limit_) return;  // never fits: hand it out uncached
  while (bytes_ + b > limit_ && !lru_.empty()) {
    auto victim = map_.find(lru_.back());
    bytes_ -= victim->second.img->bytes();
    map_.erase(victim);
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(key);
  map_[key] = Entry{img, lru_.begin()};
  bytes_ += b;
}

ImageCache::Stats ImageCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.bytes = bytes_;
  s.entries = map_.size();
  s.limit = limit_;
  return s;
}

}  // namespace srgan::data
