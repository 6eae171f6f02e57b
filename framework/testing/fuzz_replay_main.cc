// A main for fuzz targets built without libFuzzer (g++, the sanitizers): runs
// LLVMFuzzerTestOneInput on every file of the corpus directories given as arguments, so the
// seed corpus and every input that once found a bug stay regression tests. Fails if a
// directory holds no file (a corpus that silently vanished tests nothing).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    int files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[i])) {
      if (!entry.is_regular_file()) continue;
      std::printf("replaying %s\n", entry.path().c_str());  // the last one named crashed
      std::fflush(stdout);
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++files;
    }
    std::printf("%s: %d inputs replayed\n", argv[i], files);
    if (files == 0) {
      std::fprintf(stderr, "fuzz_replay: no inputs in %s\n", argv[i]);
      return 1;
    }
  }
  return argc > 1 ? 0 : 2;
}
