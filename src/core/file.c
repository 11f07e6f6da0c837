/* file.c — the library's two rules for files (docs/RELIABILITY.md).
 *
 * Inputs: every reader opens its file with cnn__open_regular(), which opens
 * without blocking (O_NONBLOCK: a FIFO with no writer cannot hang the open),
 * checks that what it opened is a regular file, and only then reads. A FIFO,
 * a directory or a device is refused by name with what it is. A reader that
 * wants the whole file takes it from cnn__read_all(), which also notices a
 * file that changes while it is read.
 *
 * Outputs: every file is written with cnn__atomic_*: into "<path>.tmp.<pid>.<n>"
 * beside the target, then flushed, fsync'ed, closed and renamed over the
 * target, so a reader sees the old file or the new one, never a partial one.
 * A path that is a symbolic link is written through the link (the target is
 * replaced, the link stays), as open(2) would. An existing target must be a
 * regular file. Every write is checked and the first system error (ENOSPC,
 * EIO, ...) is the one reported.
 */
#define _GNU_SOURCE /* fopencookie: stdio writes whose errors we can name */
#include "cnn_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

const char *cnn__file_kind(unsigned mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "not a regular file";
}

int cnn__open_regular(FILE **out, const char *path, uint64_t *size) {
    *out = NULL;
    if (size) *size = 0;
    if (!path || !*path) return cnn__fail(CNN_EINVAL, "input path is empty");
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        return cnn__fail(err == ENOENT ? CNN_ENOTFOUND : CNN_EIO, "%s: cannot open: %s", path, strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return cnn__fail(CNN_EIO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return cnn__fail(CNN_EIO, "%s: not a regular file (%s)", path, cnn__file_kind((unsigned)st.st_mode));
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int err = errno;
        close(fd);
        return cnn__fail(CNN_ENOMEM, "%s: cannot open: %s", path, strerror(err));
    }
    *out = f;
    if (size) *size = (uint64_t)st.st_size;
    return CNN_OK;
}

int cnn__read_all(const char *path, size_t max, uint8_t **bytes, size_t *size) {
    *bytes = NULL;
    *size = 0;
    FILE *f;
    uint64_t n;
    CNN_TRY(cnn__open_regular(&f, path, &n));
    if (max > SIZE_MAX - 1) max = SIZE_MAX - 1; /* room for the NUL */
    if (n > max) {
        fclose(f);
        return cnn__fail(CNN_EFORMAT, "%s: size: expected at most %zu bytes, found %llu", path, max,
                         (unsigned long long)n);
    }
    uint8_t *buf = cnn_malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return cnn__fail(CNN_ENOMEM, "%s: out of memory for %llu bytes", path, (unsigned long long)n);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    int extra = fgetc(f) != EOF; /* the file grew while it was read */
    int err = ferror(f);
    fclose(f);
    if (got != n || extra || err) {
        cnn_free(buf);
        return cnn__fail(CNN_EIO, "%s: read %zu of %llu bytes (file changed or read error)", path, got,
                         (unsigned long long)n);
    }
    buf[got] = '\0';
    *bytes = buf;
    *size = got;
    return CNN_OK;
}

int cnn_file_read(const char *path, size_t max, char **bytes, size_t *len) {
    uint8_t *b;
    size_t n;
    int rc = cnn__read_all(path, max, &b, &n);
    *bytes = (char *)b;
    if (len) *len = n;
    return rc;
}

uint32_t cnn__crc32(uint32_t crc, const void *p, uint64_t n) {
    const Bytef *b = p;
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n; /* zlib takes 32-bit lengths */
        crc = (uint32_t)crc32(crc, b, k);
        b += k, n -= k;
    }
    return crc;
}

/* ---- atomic file output --------------------------------------------------- */

static atomic_uint tmp_counter;

/* stdio writes go through here so the first error's errno is kept. */
static ssize_t atomic_write(void *cookie, const char *buf, size_t n) {
    cnn__atomic_file *af = cookie;
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(af->fd, buf + done, n - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (!af->err) af->err = k < 0 ? errno : EIO;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static int atomic_seek(void *cookie, off64_t *offset, int whence) {
    cnn__atomic_file *af = cookie;
    off64_t at = lseek64(af->fd, *offset, whence);
    if (at < 0) return -1;
    *offset = at;
    return 0;
}

static int atomic_close(void *cookie) {
    (void)cookie; /* the descriptor is closed by commit or abort */
    return 0;
}

/* The path to replace: path itself, or what a symbolic link at path names
 * (resolved fully); *target is cnn_malloc'ed. */
static int atomic_target(const char *path, char **target) {
    struct stat st;
    *target = NULL;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *real = realpath(path, NULL);
        if (!real) {
            int err = errno;
            return cnn__fail(CNN_EIO, "%s: a symbolic link whose target cannot be resolved: %s", path,
                             strerror(err));
        }
        size_t n = strlen(real);
        *target = cnn_malloc(n + 1);
        if (*target) memcpy(*target, real, n + 1);
        free(real);
    } else {
        size_t n = strlen(path);
        *target = cnn_malloc(n + 1);
        if (*target) memcpy(*target, path, n + 1);
    }
    return *target ? CNN_OK : cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
}

static void atomic_release(cnn__atomic_file *af) {
    cnn_free(af->path);
    cnn_free(af->tmp_path);
    memset(af, 0, sizeof *af);
    af->fd = -1;
}

int cnn_file_write(const char *path, const void *data, size_t len) {
    cnn__atomic_file af;
    CNN_TRY(cnn__atomic_open(&af, path));
    if (len) fwrite(data, 1, len, af.f);
    return cnn__atomic_commit(&af);
}

int cnn__atomic_open(cnn__atomic_file *af, const char *path) {
    memset(af, 0, sizeof *af);
    af->fd = -1;
    if (!path || !path[0]) return cnn__fail(CNN_EINVAL, "output path is empty");
    CNN_TRY(atomic_target(path, &af->path));
    struct stat st;
    if (stat(af->path, &st) == 0 && !S_ISREG(st.st_mode)) {
        int rc = cnn__fail(CNN_EIO, "%s: cannot write: it is %s, not a regular file", path,
                           cnn__file_kind((unsigned)st.st_mode));
        atomic_release(af);
        return rc;
    }
    size_t cap = strlen(af->path) + 64;
    af->tmp_path = cnn_malloc(cap);
    if (!af->tmp_path) {
        atomic_release(af);
        return cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
    }
    int fd = -1, err = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(af->tmp_path, cap, "%s.tmp.%ld.%u", af->path, (long)getpid(), atomic_fetch_add(&tmp_counter, 1u));
        fd = open(af->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST) break;
    }
    if (fd < 0) {
        int rc = cnn__fail(CNN_EIO, "%s: cannot create: %s", path, strerror(err));
        atomic_release(af);
        return rc;
    }
    af->fd = fd;
    cookie_io_functions_t io = {NULL, atomic_write, atomic_seek, atomic_close};
    af->f = fopencookie(af, "w", io);
    if (!af->f) {
        close(fd);
        unlink(af->tmp_path);
        atomic_release(af);
        return cnn__fail(CNN_ENOMEM, "%s: out of memory", path);
    }
    return CNN_OK;
}

int cnn_file_check_output(const char *path) {
    cnn__atomic_file af;
    CNN_TRY(cnn__atomic_open(&af, path));
    /* An existing target must be replaceable: rename(2) onto it is refused
     * for an immutable file, which an open for writing finds out now. */
    int rc = CNN_OK;
    struct stat st;
    if (stat(af.path, &st) == 0) {
        int fd = open(af.path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && (errno == EPERM || errno == EACCES || errno == EROFS))
            rc = cnn__fail(CNN_EIO, "%s: cannot replace: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
    }
    cnn__atomic_abort(&af);
    return rc;
}

void cnn__atomic_abort(cnn__atomic_file *af) {
    if (!af) return;
    if (af->f) fclose(af->f);
    if (af->fd >= 0) {
        close(af->fd);
        unlink(af->tmp_path);
    }
    atomic_release(af);
}

/* fsync the directory holding path so the rename itself is durable. Best effort. */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else return;
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int cnn__atomic_commit(cnn__atomic_file *af) {
    if (!af || !af->f) return cnn__fail(CNN_EINVAL, "cnn__atomic_commit: file is not open");
    int ok = fflush(af->f) == 0 && !ferror(af->f) && !af->err;
    int err = af->err ? af->err : EIO;
    fclose(af->f);
    af->f = NULL;
    if (ok && fsync(af->fd) != 0) ok = 0, err = errno;
    if (close(af->fd) != 0 && ok) ok = 0, err = errno;
    af->fd = -1;
    if (ok && rename(af->tmp_path, af->path) != 0) ok = 0, err = errno;
    int rc = CNN_OK;
    if (!ok) {
        unlink(af->tmp_path);
        rc = cnn__fail(CNN_EIO, "%s: write failed: %s", af->path, strerror(err));
    } else {
        sync_dir(af->path);
    }
    atomic_release(af);
    return rc;
}
