#pragma once
// Builds small archives with libarchive for the fetcher's tests.

#include <archive.h>
#include <archive_entry.h>

#include <string>
#include <vector>

namespace nucleo::testing {

struct ArchiveMember {
  std::string name;
  std::string content;  // regular file body, or the link target
  char kind = 'f';      // 'f' file, 'd' directory, 'l' symlink, 'h' hard link
  int mode = 0644;
};

// `kind`: "tar", "tar.gz", "tgz", "tar.bz2", "tar.xz", "tar.zst", "zip", or
// "gz" (one member's content gzipped, no archive format).
// Returns the archive's bytes ("" when libarchive refuses).
inline std::string makeArchive(const std::string& kind, const std::vector<ArchiveMember>& members) {
  archive* a = archive_write_new();
  if (kind == "zip") archive_write_set_format_zip(a);
  else if (kind == "gz") archive_write_set_format_raw(a);  // one member, gzipped
  else archive_write_set_format_pax_restricted(a);
  if (kind == "tar.gz" || kind == "tgz" || kind == "gz") archive_write_add_filter_gzip(a);
  if (kind == "tar.bz2") archive_write_add_filter_bzip2(a);
  if (kind == "tar.xz") archive_write_add_filter_xz(a);
  if (kind == "tar.zst") archive_write_add_filter_zstd(a);
  std::string out(8 << 20, '\0');
  size_t used = 0;
  if (archive_write_open_memory(a, out.data(), out.size(), &used) != ARCHIVE_OK) {
    archive_write_free(a);
    return "";
  }
  for (const auto& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_perm(e, static_cast<mode_t>(m.mode));
    if (m.kind == 'd') {
      archive_entry_set_filetype(e, AE_IFDIR);
    } else if (m.kind == 'l') {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.content.c_str());
    } else if (m.kind == 'h') {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, m.content.c_str());
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(m.content.size()));
    }
    archive_write_header(a, e);
    if (m.kind == 'f') archive_write_data(a, m.content.data(), m.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

}  // namespace nucleo::testing
