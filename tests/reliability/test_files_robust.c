#define _GNU_SOURCE
/* Saving and loading at unusual paths (docs/reliability.md):
 *  1. symbolic links are followed: a relative link, a chain of two, an
 *     absolute link into another directory, a dangling link (creates its
 *     target); the link stays a link, the target gets the new bytes, and no
 *     temporary file is left in either directory; a loop is HOSM_E_IO;
 *  2. FIFOs, character devices, sockets and directories are
 *     refused with HOSM_E_IO naming what they are, directly and through a
 *     link, and are left as they were; loading from them is HOSM_E_IO too and
 *     does not block (a FIFO without a writer). The character device is a
 *     node of our own in the temporary directory (mknod, as root); the real
 *     /dev/null is tried (directly and through a link) only after that node
 *     and the FIFO were refused in this run, so that a broken library never
 *     gets to replace the system's /dev/null;
 *  3. temporary files left by killed saves (TARGET.tmp-XXXXXX, unlocked) are
 *     removed by the next save (empty or not); one whose writer still holds
 *     its lock and names of another pattern are kept;
 *  4. a full file system (a 64 KiB tmpfs in a private mount namespace; skipped
 *     where mounting is not allowed): a save that does not fit returns
 *     HOSM_E_IO and the old file keeps its bytes, with no temporary left. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "rel_util.h"

static hosm_model *small, *large;
static hosm_trainer *trainer;

static int same_file_bytes(const char *path, const hosm_model *m)
{
    int64_t n;
    hosm_model_save_size(m, &n);
    uint8_t *want = malloc((size_t)n);
    hosm_model_save_mem(m, want, n, NULL);
    size_t got_n;
    uint8_t *got = slurp(path, &got_n);
    int same = got && got_n == (size_t)n && memcmp(got, want, (size_t)n) == 0;
    free(got);
    free(want);
    return same;
}

static int is_link(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0 && S_ISLNK(st.st_mode);
}

static void test_symlinks(const char *dir, const char *dir2)
{
    char real[512], link1[512], link2[512], abs_link[512], other[512], dangling[512],
        dangling_target[512], loop_a[512], loop_b[512];
    snprintf(real, sizeof real, "%s/real.hosm", dir);
    snprintf(link1, sizeof link1, "%s/link1", dir);
    snprintf(link2, sizeof link2, "%s/link2", dir);
    MUST(hosm_model_save(large, real));
    CHECK(symlink("real.hosm", link1) == 0 || errno == EEXIST, "symlink");
    CHECK(symlink("link1", link2) == 0, "symlink");
    /* link1 is relative to dir, not to the working directory. */
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd) || chdir("/") != 0)
        exit(1);
    CHECK(hosm_model_save(small, link1) == HOSM_OK, "save through a relative link");
    CHECK(is_link(link1), "the link is still a link");
    CHECK(same_file_bytes(real, small), "the link's target has the new bytes");
    CHECK(hosm_model_save(large, link2) == HOSM_OK, "save through two links");
    CHECK(is_link(link2) && is_link(link1), "both links are still links");
    CHECK(same_file_bytes(real, large), "the final target has the new bytes");
    if (chdir(cwd) != 0)
        exit(1);
    /* An absolute link into another directory: the temporary goes there. */
    snprintf(other, sizeof other, "%s/other.hosm", dir2);
    snprintf(abs_link, sizeof abs_link, "%s/abs", dir);
    MUST(hosm_model_save(small, other));
    CHECK(symlink(other, abs_link) == 0, "symlink");
    CHECK(hosm_model_save(large, abs_link) == HOSM_OK, "save through an absolute link");
    CHECK(is_link(abs_link) && same_file_bytes(other, large), "absolute link followed");
    /* A dangling link: its target is created. */
    snprintf(dangling, sizeof dangling, "%s/dangling", dir);
    snprintf(dangling_target, sizeof dangling_target, "%s/created.hosm", dir2);
    CHECK(symlink(dangling_target, dangling) == 0, "symlink");
    CHECK(hosm_model_save(small, dangling) == HOSM_OK, "save through a dangling link");
    CHECK(is_link(dangling) && same_file_bytes(dangling_target, small), "target created");
    hosm_model *back = NULL;
    CHECK(hosm_model_load(&back, link2) == HOSM_OK, "load through two links");
    hosm_model_free(back);
    /* A loop. */
    snprintf(loop_a, sizeof loop_a, "%s/loop_a", dir);
    snprintf(loop_b, sizeof loop_b, "%s/loop_b", dir);
    CHECK(symlink("loop_b", loop_a) == 0 && symlink("loop_a", loop_b) == 0, "symlink");
    CHECK(hosm_model_save(small, loop_a) == HOSM_E_IO, "a link loop is HOSM_E_IO");
    CHECK(is_link(loop_a) && is_link(loop_b), "the loop is left alone");
    CHECK(count_temps(dir) == 0 && count_temps(dir2) == 0, "no temporary files");
    struct stat st;
    CHECK(stat(real, &st) == 0 && (st.st_mode & 0777) == 0644, "mode 0644");
    printf("ok symbolic links\n");
}

static void refused(const char *what, const char *path, const char *kind, mode_t type)
{
    struct stat before, after;
    CHECK(lstat(path, &before) == 0, "%s exists", what);
    int st = hosm_model_save(small, path);
    CHECK(st == HOSM_E_IO, "%s: model save returned %d, expected HOSM_E_IO", what, st);
    CHECK(strstr(hosm_last_errmsg(), kind) != NULL, "%s: the message names %s", what, kind);
    st = hosm_trainer_save(trainer, path);
    CHECK(st == HOSM_E_IO, "%s: trainer save returned %d", what, st);
    hosm_model *m = (hosm_model *)1;
    st = hosm_model_load(&m, path);
    CHECK(st == HOSM_E_IO && m == NULL, "%s: model load returned %d", what, st);
    st = hosm_trainer_load(trainer, path);
    CHECK(st == HOSM_E_IO, "%s: trainer load returned %d", what, st);
    CHECK(lstat(path, &after) == 0 && after.st_ino == before.st_ino &&
              after.st_mode == before.st_mode && after.st_rdev == before.st_rdev,
          "%s: left as it was", what);
    if (type) {
        struct stat t;
        CHECK(stat(path, &t) == 0 && (t.st_mode & S_IFMT) == type, "%s: still its kind", what);
    }
}

static void test_special(const char *dir)
{
    char fifo[512], lfifo[512], lnull[512], sock[512], sub[512];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(lfifo, sizeof lfifo, "%s/link-to-fifo", dir);
    snprintf(lnull, sizeof lnull, "%s/link-to-null", dir);
    snprintf(sock, sizeof sock, "%s/sock", dir);
    snprintf(sub, sizeof sub, "%s/subdir", dir);
    alarm(60); /* a load that opened the FIFO would block here */
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    refused("a FIFO", fifo, "FIFO", S_IFIFO);
    CHECK(symlink(fifo, lfifo) == 0, "symlink");
    refused("a link to a FIFO", lfifo, "FIFO", S_IFIFO);
    char dev[512];
    snprintf(dev, sizeof dev, "%s/null-device", dir);
    int own_device = mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0;
    if (own_device)
        refused("a character device of our own", dev, "character device", S_IFCHR);
    else
        printf("note: cannot make a device node here (%s)\n", strerror(errno));
    if (own_device && failures == 0) {
        refused("/dev/null", "/dev/null", "character device", S_IFCHR);
        CHECK(symlink("/dev/null", lnull) == 0, "symlink");
        refused("a link to /dev/null", lnull, "character device", S_IFCHR);
    } else {
        printf("note: /dev/null itself not tried (no device node of our own was refused)\n");
    }
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fits = strlen(sock) < sizeof addr.sun_path;
    if (fits)
        memcpy(addr.sun_path, sock, strlen(sock) + 1);
    if (s >= 0 && fits &&
        bind(s, (struct sockaddr *)&addr, sizeof addr) == 0)
        refused("a socket", sock, "socket", S_IFSOCK);
    else
        printf("note: socket case skipped (path too long or no AF_UNIX)\n");
    if (s >= 0)
        close(s);
    CHECK(mkdir(sub, 0700) == 0, "mkdir");
    refused("a directory", sub, "directory", S_IFDIR);
    rmdir(sub);
    alarm(0);
    CHECK(count_temps(dir) == 0, "no temporary files");
    printf("ok FIFO, /dev/null, socket and directory refused\n");
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        exit(1);
}

static void test_stale(const char *dir)
{
    char target[512], dead[512], held[512], fresh_empty[512], old_empty[512], other[512],
        other2[512];
    snprintf(target, sizeof target, "%s/t.hosm", dir);
    snprintf(dead, sizeof dead, "%s/t.hosm.tmp-Ab3xY9", dir);
    snprintf(held, sizeof held, "%s/t.hosm.tmp-HELD00", dir);
    snprintf(fresh_empty, sizeof fresh_empty, "%s/t.hosm.tmp-EMPTY1", dir);
    snprintf(old_empty, sizeof old_empty, "%s/t.hosm.tmp-EMPTY2", dir);
    snprintf(other, sizeof other, "%s/t.hosm.tmp-short", dir);
    snprintf(other2, sizeof other2, "%s/u.hosm.tmp-Ab3xY9", dir);
    put_file(dead, "complete file of a killed save");
    put_file(held, "a save in progress");
    put_file(fresh_empty, "");
    put_file(old_empty, "");
    put_file(other, "not ours");
    put_file(other2, "another target's");
    struct timespec ts[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    CHECK(utimensat(AT_FDCWD, old_empty, ts, 0) == 0, "utimensat");
    /* A save in progress holds its lock. flock locks belong to open file
     * descriptions, so this one conflicts with the library's own open of the
     * file even within this process. */
    int fd = open(held, O_RDONLY);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "flock");
    MUST(hosm_model_save(small, target));
    CHECK(access(dead, F_OK) != 0, "the killed save's file is removed");
    CHECK(access(old_empty, F_OK) != 0, "an old empty one is removed");
    CHECK(access(held, F_OK) == 0, "a locked one is kept");
    CHECK(access(fresh_empty, F_OK) != 0, "a fresh empty one is removed");
    CHECK(access(other, F_OK) == 0 && access(other2, F_OK) == 0, "other names are kept");
    close(fd);
    MUST(hosm_model_save(small, target));
    CHECK(access(held, F_OK) != 0, "removed once its lock is free");
    unlink(other);
    unlink(other2);
    CHECK(count_temps(dir) == 0, "no temporary files");
    printf("ok stale temporary files\n");
}

/* In a child: a private mount namespace with a 64 KiB tmpfs. Exit status 77:
 * not allowed here. */
static int full_fs_child(const char *dir)
{
    char mnt[600], path[700];
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    if (mkdir(mnt, 0700) != 0)
        return 1;
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        printf("skip full file system: cannot mount a tmpfs here (%s)\n", strerror(errno));
        rmdir(mnt);
        return 77;
    }
    snprintf(path, sizeof path, "%s/m.hosm", mnt);
    MUST(hosm_model_save(small, path));
    int st = hosm_model_save(large, path);
    CHECK(st == HOSM_E_IO, "a save larger than the free space returned %d", st);
    CHECK(strstr(hosm_last_errmsg(), "space") != NULL, "the message says why: %s",
          hosm_last_errmsg());
    CHECK(same_file_bytes(path, small), "the old file keeps its bytes");
    CHECK(count_temps(mnt) == 0, "no temporary file");
    st = hosm_trainer_save(trainer, path);
    CHECK(st == HOSM_E_IO, "a trainer save larger than the free space returned %d", st);
    CHECK(same_file_bytes(path, small), "the old file keeps its bytes");
    hosm_model *back = NULL;
    CHECK(hosm_model_load(&back, path) == HOSM_OK, "the old file loads");
    hosm_model_free(back);
    /* Space freed: the save succeeds again. */
    CHECK(hosm_model_save(small, path) == HOSM_OK, "a save that fits");
    umount(mnt);
    rmdir(mnt);
    if (!failures)
        printf("ok full file system (64 KiB tmpfs)\n");
    return failures ? 1 : 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    char dir[256], dir2[256];
    make_temp_dir(dir, sizeof dir, "robust");
    make_temp_dir(dir2, sizeof dir2, "robust2");
    hosm_config *cfg;
    MUST(hosm_config_new(&cfg));
    MUST(hosm_config_parse(cfg, "hidden=4 depth=1"));
    MUST(hosm_model_new(&small, 2, cfg));
    MUST(hosm_config_parse(cfg, "hidden=128 depth=3 s2=full"));
    MUST(hosm_model_new(&large, 6, cfg));
    MUST(hosm_trainer_new(&trainer, large, cfg));
    test_symlinks(dir, dir2);
    test_special(dir);
    test_stale(dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        exit(full_fs_child(dir));
    int ws;
    waitpid(pid, &ws, 0);
    int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
    if (code != 0 && code != 77) {
        printf("FAIL full file system\n");
        failures++;
    }
    hosm_trainer_free(trainer);
    hosm_model_free(small);
    hosm_model_free(large);
    hosm_config_free(cfg);
    remove_tree(dir);
    remove_tree(dir2);
    printf("%s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
