/*
 * dmsim-preload.so: the LD_PRELOAD bridge of dmsim's front end.
 *
 * Loaded into a dynamically linked program (the real dmsetup, lvm, ...),
 * it sends the program's device-mapper ioctls on /dev/mapper/control, and
 * its stat, open, readdir, mknod, unlink, rename, chown and readlink calls
 * on /dev/mapper, /proc/devices, /proc/misc, /proc/partitions and the
 * block parts of /sys, to a dmsim daemon over a Unix socket
 * (frontend/wire's Bridge, Ioctl, PathOp and Reply frames). Every other call
 * goes to the C library as usual.
 *
 * The socket is $DMSIM_BRIDGE_SOCKET, else /run/dmsim/dmsim.sock. With
 * $DMSIM_BRIDGE_NODES set, the nodes under /dev/mapper are dmsim's too (see
 * nodes_bridged). When no
 * daemon answers, /dev/mapper/control fails to open with ENODEV and the
 * other calls go to the host, as if the kernel had no device-mapper.
 *
 * Written for dmsim; see docs/bridge.md.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/dmsim/dmsim.sock"
#define BRIDGE_VERSION "dmsim-bridge 1"
#define MAX_PAYLOAD (1 << 24)
#define DM_IOCTL_TYPE 0xfd
#define DM_HEADER 305 /* offsetof(struct dm_ioctl, data) */
#define MAX_CONTROL_FDS 64
#define MAX_DIRS 16
#define ERRNO_HOST 4095 /* wire.ErrnoHost */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int conn = -1;
static pid_t conn_pid;
static int conn_failed;
static int control_fds[MAX_CONTROL_FDS];
static int n_control_fds;

#define REAL(name) real_##name
#define DECLARE_REAL(ret, name, ...) static ret (*real_##name)(__VA_ARGS__)
DECLARE_REAL(int, open, const char *, int, ...);
DECLARE_REAL(int, open64, const char *, int, ...);
DECLARE_REAL(int, openat, int, const char *, int, ...);
DECLARE_REAL(int, openat64, int, const char *, int, ...);
DECLARE_REAL(FILE *, fopen, const char *, const char *);
DECLARE_REAL(FILE *, fopen64, const char *, const char *);
DECLARE_REAL(int, close, int);
DECLARE_REAL(int, ioctl, int, unsigned long, ...);
DECLARE_REAL(int, stat, const char *, struct stat *);
DECLARE_REAL(int, lstat, const char *, struct stat *);
DECLARE_REAL(int, stat64, const char *, struct stat64 *);
DECLARE_REAL(int, lstat64, const char *, struct stat64 *);
DECLARE_REAL(int, access, const char *, int);
DECLARE_REAL(int, mknod, const char *, mode_t, dev_t);
DECLARE_REAL(int, unlink, const char *);
DECLARE_REAL(int, rename, const char *, const char *);
DECLARE_REAL(int, chown, const char *, uid_t, gid_t);
DECLARE_REAL(int, chmod, const char *, mode_t);
DECLARE_REAL(ssize_t, readlink, const char *, char *, size_t);
DECLARE_REAL(DIR *, opendir, const char *);
DECLARE_REAL(struct dirent *, readdir, DIR *);
DECLARE_REAL(struct dirent64 *, readdir64, DIR *);
DECLARE_REAL(int, closedir, DIR *);
DECLARE_REAL(char *, realpath, const char *, char *);
DECLARE_REAL(char *, canonicalize_file_name, const char *);

#define RESOLVE(name)                                                                            \
	do {                                                                                     \
		if (!real_##name)                                                                \
			*(void **)&real_##name = dlsym(RTLD_NEXT, #name);                         \
	} while (0)

/* ---- paths ---- */

static int under(const char *p, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/*
 * nodes_bridged: with $DMSIM_BRIDGE_NODES set, /dev/mapper's nodes are
 * dmsim's own (libdm's mknod, unlink and rename with DM_DISABLE_UDEV=1 go
 * to the emulated machine, as in the differential test); otherwise they are
 * the host's (the daemon's links to loop devices, which it makes as udev
 * would) and only /dev/mapper/control is dmsim's.
 */
static int nodes_bridged(void)
{
	const char *v = getenv("DMSIM_BRIDGE_NODES");
	return v && *v;
}

/* mapper_bridged says whether a call on path p under /dev/mapper goes to dmsim. */
static int mapper_bridged(const char *p)
{
	return p && under(p, "/dev/mapper") && (!strcmp(p, "/dev/mapper/control") || nodes_bridged());
}

/* bridged says whether calls on path p go to dmsim. */
static int bridged(const char *p)
{
	if (!p || p[0] != '/')
		return 0;
	if (under(p, "/dev/mapper"))
		return mapper_bridged(p);
	if (!strcmp(p, "/proc/devices") || !strcmp(p, "/proc/misc") || !strcmp(p, "/proc/partitions"))
		return 1;
	return under(p, "/sys/dev/block") || under(p, "/sys/block") || under(p, "/sys/class/block") ||
	       under(p, "/sys/module");
}

/* ---- the connection ---- */

static int writen(int fd, const void *b, size_t n)
{
	const char *p = b;
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static int readn(int fd, void *b, size_t n)
{
	char *p = b;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

static void put32(unsigned char *b, uint32_t v)
{
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

static uint32_t get32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int send_frame(char kind, const void *a, size_t na, const void *b, size_t nb)
{
	unsigned char h[5];
	if (na + nb > MAX_PAYLOAD)
		return -1;
	h[0] = kind;
	put32(h + 1, na + nb);
	if (writen(conn, h, 5) || (na && writen(conn, a, na)) || (nb && writen(conn, b, nb)))
		return -1;
	return 0;
}

/* connect_locked opens this process's connection (again after a fork). */
static int connect_locked(void)
{
	struct sockaddr_un sa;
	const char *path;
	int fd, saved = errno;

	if (conn >= 0 && conn_pid == getpid())
		return 0;
	if (conn >= 0) {
		RESOLVE(close);
		REAL(close)(conn); /* the parent's */
		conn = -1;
		conn_failed = 0;
	}
	if (conn_failed)
		return -1;
	path = getenv("DMSIM_BRIDGE_SOCKET");
	if (!path || !*path)
		path = DEFAULT_SOCKET;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		goto fail;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		RESOLVE(close);
		REAL(close)(fd);
		goto fail;
	}
	conn = fd;
	conn_pid = getpid();
	if (send_frame('B', BRIDGE_VERSION, strlen(BRIDGE_VERSION), NULL, 0)) {
		REAL(close)(fd);
		conn = -1;
		goto fail;
	}
	errno = saved;
	return 0;
fail:
	conn_failed = 1;
	errno = saved;
	return -1;
}

/*
 * call sends one frame and reads the reply: the errno (0 on success) is
 * returned, the data is put in *data (malloc'ed, *n bytes). -1: no daemon.
 */
static int call(char kind, const void *a, size_t na, const void *b, size_t nb, unsigned char **data, size_t *n)
{
	unsigned char h[5], e[4];
	uint32_t len;
	int r = -1;

	*data = NULL;
	*n = 0;
	pthread_mutex_lock(&lock);
	if (connect_locked())
		goto out;
	if (send_frame(kind, a, na, b, nb) || readn(conn, h, 5) || h[0] != 'R')
		goto broken;
	len = get32(h + 1);
	if (len < 4 || len > MAX_PAYLOAD || readn(conn, e, 4))
		goto broken;
	len -= 4;
	*data = malloc(len + 1);
	if (!*data || (len && readn(conn, *data, len)))
		goto broken;
	(*data)[len] = 0;
	*n = len;
	r = get32(e);
	goto out;
broken:
	free(*data);
	*data = NULL;
	RESOLVE(close);
	REAL(close)(conn);
	conn = -1;
	conn_failed = 1;
	r = -1;
out:
	pthread_mutex_unlock(&lock);
	return r;
}

/* path_op sends a PathOp; see call(). */
static int path_op(char op, const char *path, const char *path2, uint32_t mode, uint32_t maj, uint32_t min,
		   unsigned char **data, size_t *n)
{
	unsigned char h[13];
	size_t l1 = strlen(path) + 1, l2 = path2 ? strlen(path2) : 0;
	unsigned char *b = malloc(sizeof(h) + l1 + l2);
	int r;

	if (!b)
		return -1;
	b[0] = op;
	put32(b + 1, mode);
	put32(b + 5, maj);
	put32(b + 9, min);
	memcpy(b + 13, path, l1);
	if (l2)
		memcpy(b + 13 + l1, path2, l2);
	r = call('P', b, 13 + l1 + l2, NULL, 0, data, n);
	free(b);
	if (r == ERRNO_HOST) {
		/* the host's path: make the call there */
		free(*data);
		*data = NULL;
		return -1;
	}
	return r;
}

/* simple_op runs a PathOp whose answer is only an errno. */
static int simple_op(char op, const char *path, const char *path2, uint32_t mode, uint32_t maj, uint32_t min,
		     int *result)
{
	unsigned char *data;
	size_t n;
	int e = path_op(op, path, path2, mode, maj, min, &data, &n);
	if (e < 0)
		return 0;
	free(data);
	if (e) {
		errno = e;
		*result = -1;
	} else
		*result = 0;
	return 1;
}

/* ---- /dev/mapper/control ---- */

static int is_control_fd(int fd)
{
	int i, r = 0;
	pthread_mutex_lock(&lock);
	for (i = 0; i < n_control_fds; i++)
		if (control_fds[i] == fd)
			r = 1;
	pthread_mutex_unlock(&lock);
	return r;
}

static int open_control(void)
{
	int fd;
	pthread_mutex_lock(&lock);
	if (connect_locked() || n_control_fds == MAX_CONTROL_FDS) {
		pthread_mutex_unlock(&lock);
		errno = ENODEV;
		return -1;
	}
	RESOLVE(open);
	fd = REAL(open)("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		control_fds[n_control_fds++] = fd;
	pthread_mutex_unlock(&lock);
	return fd;
}

static void forget_control(int fd)
{
	int i;
	pthread_mutex_lock(&lock);
	for (i = 0; i < n_control_fds; i++)
		if (control_fds[i] == fd)
			control_fds[i] = control_fds[--n_control_fds];
	pthread_mutex_unlock(&lock);
}

static int dm_ioctl(unsigned long req, void *arg)
{
	unsigned char cmd[4], *data;
	size_t n, size;
	uint32_t data_size;
	int e;

	if (!arg) {
		errno = EFAULT;
		return -1;
	}
	memcpy(&data_size, (char *)arg + 12, 4);
	size = data_size < DM_HEADER ? DM_HEADER : data_size;
	if (size > MAX_PAYLOAD - 8) {
		errno = ENOMEM;
		return -1;
	}
	put32(cmd, (uint32_t)req);
	e = call('C', cmd, 4, arg, size, &data, &n);
	if (e < 0) {
		errno = ENODEV;
		return -1;
	}
	if (n > size)
		n = size;
	memcpy(arg, data, n);
	free(data);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

/* ---- files read from dmsim ---- */

/* content_fd is a memfd holding a bridged file's contents. */
static int content_fd(const char *path, int flags)
{
	unsigned char *data;
	size_t n;
	int fd, e;

	if (flags & (O_WRONLY | O_RDWR | O_CREAT)) {
		errno = EACCES;
		return -1;
	}
	e = path_op('r', path, NULL, 0, 0, 0, &data, &n);
	if (e < 0)
		return -2;
	if (e) {
		free(data);
		errno = e;
		return -1;
	}
	fd = memfd_create("dmsim-bridge", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
	if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n) || lseek(fd, 0, SEEK_SET) < 0) {
		free(data);
		return -1;
	}
	free(data);
	return fd;
}

/*
 * bridged_open is open(2) of a bridged path; -2: not for dmsim after all
 * (a /dev/mapper/NAME node is opened on the host: the daemon's link to the
 * device's loop device).
 */
static int bridged_open(const char *path, int flags)
{
	if (!strcmp(path, "/dev/mapper/control"))
		return open_control();
	if (under(path, "/dev/mapper"))
		return -2;
	return content_fd(path, flags);
}

#define OPEN_BODY(realname, path, flags)                                                          \
	mode_t mode = 0;                                                                          \
	if (flags & (O_CREAT | O_TMPFILE)) {                                                      \
		va_list ap;                                                                       \
		va_start(ap, flags);                                                              \
		mode = va_arg(ap, mode_t);                                                        \
		va_end(ap);                                                                       \
	}                                                                                         \
	if (bridged(path)) {                                                                      \
		int fd = bridged_open(path, flags);                                               \
		if (fd != -2)                                                                     \
			return fd;                                                                \
	}                                                                                         \
	RESOLVE(realname);

int open(const char *path, int flags, ...)
{
	OPEN_BODY(open, path, flags);
	return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	OPEN_BODY(open64, path, flags);
	return REAL(open64)(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(openat, path, flags);
	return REAL(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_BODY(openat64, path, flags);
	return REAL(openat64)(dirfd, path, flags, mode);
}

static FILE *bridged_fopen(const char *path, const char *mode, int *done)
{
	int fd;
	*done = 0;
	if (!bridged(path))
		return NULL;
	if (strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+')) {
		if (under(path, "/dev/mapper"))
			return NULL;
		*done = 1;
		errno = EACCES;
		return NULL;
	}
	fd = bridged_open(path, O_RDONLY | (strchr(mode, 'e') ? O_CLOEXEC : 0));
	if (fd == -2)
		return NULL;
	*done = 1;
	if (fd < 0)
		return NULL;
	return fdopen(fd, "r");
}

FILE *fopen(const char *path, const char *mode)
{
	int done;
	FILE *f = bridged_fopen(path, mode, &done);
	if (done)
		return f;
	RESOLVE(fopen);
	return REAL(fopen)(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	int done;
	FILE *f = bridged_fopen(path, mode, &done);
	if (done)
		return f;
	RESOLVE(fopen64);
	return REAL(fopen64)(path, mode);
}

int close(int fd)
{
	forget_control(fd);
	RESOLVE(close);
	return REAL(close)(fd);
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (((req >> 8) & 0xff) == DM_IOCTL_TYPE && is_control_fd(fd))
		return dm_ioctl(req, arg);
	RESOLVE(ioctl);
	return REAL(ioctl)(fd, req, arg);
}

/* ---- stat and friends ---- */

/* bridged_stat fills st from dmsim (op 's' stat, 'L' lstat): 1 done
 * (result in *r), 0 not bridged. */
static int bridged_stat_op(char op, const char *path, struct stat64 *st, int *r)
{
	unsigned char *data;
	size_t n;
	int e;

	if (!bridged(path))
		return 0;
	e = path_op(op, path, NULL, 0, 0, 0, &data, &n);
	if (e < 0)
		return 0;
	if (e) {
		free(data);
		errno = e;
		*r = -1;
		return 1;
	}
	if (n != 28) {
		free(data);
		errno = EIO;
		*r = -1;
		return 1;
	}
	memset(st, 0, sizeof(*st));
	st->st_mode = get32(data);
	st->st_rdev = makedev(get32(data + 4), get32(data + 8));
	st->st_uid = get32(data + 12);
	st->st_gid = get32(data + 16);
	st->st_size = (off64_t)((uint64_t)get32(data + 20) << 32 | get32(data + 24));
	st->st_nlink = 1;
	st->st_blksize = 4096;
	st->st_dev = makedev(0, 5);
	st->st_ino = 1;
	for (const char *c = path; *c; c++)
		st->st_ino = st->st_ino * 31 + (unsigned char)*c;
	free(data);
	*r = 0;
	return 1;
}

static int bridged_stat(const char *path, struct stat64 *st, int *r)
{
	return bridged_stat_op('s', path, st, r);
}

static void to_stat(const struct stat64 *a, struct stat *b)
{
	memset(b, 0, sizeof(*b));
	b->st_mode = a->st_mode;
	b->st_rdev = a->st_rdev;
	b->st_uid = a->st_uid;
	b->st_gid = a->st_gid;
	b->st_size = a->st_size;
	b->st_nlink = a->st_nlink;
	b->st_blksize = a->st_blksize;
	b->st_dev = a->st_dev;
	b->st_ino = a->st_ino;
}

int stat(const char *path, struct stat *st)
{
	struct stat64 s;
	int r;
	if (bridged_stat(path, &s, &r)) {
		if (!r)
			to_stat(&s, st);
		return r;
	}
	RESOLVE(stat);
	return REAL(stat)(path, st);
}

int lstat(const char *path, struct stat *st)
{
	struct stat64 s;
	int r;
	if (bridged_stat_op('L', path, &s, &r)) {
		if (!r)
			to_stat(&s, st);
		return r;
	}
	RESOLVE(lstat);
	return REAL(lstat)(path, st);
}

int stat64(const char *path, struct stat64 *st)
{
	int r;
	if (bridged_stat(path, st, &r))
		return r;
	RESOLVE(stat64);
	return REAL(stat64)(path, st);
}

int lstat64(const char *path, struct stat64 *st)
{
	int r;
	if (bridged_stat_op('L', path, st, &r))
		return r;
	RESOLVE(lstat64);
	return REAL(lstat64)(path, st);
}

int access(const char *path, int mode)
{
	int r;
	if (bridged(path) && simple_op('o', path, NULL, 0, 0, 0, &r))
		return r;
	RESOLVE(access);
	return REAL(access)(path, mode);
}

int mknod(const char *path, mode_t mode, dev_t dev)
{
	int r;
	if (mapper_bridged(path) && simple_op('n', path, NULL, mode, major(dev), minor(dev), &r))
		return r;
	RESOLVE(mknod);
	return REAL(mknod)(path, mode, dev);
}

int unlink(const char *path)
{
	int r;
	if (mapper_bridged(path) && simple_op('u', path, NULL, 0, 0, 0, &r))
		return r;
	RESOLVE(unlink);
	return REAL(unlink)(path);
}

int rename(const char *from, const char *to)
{
	int r;
	if (mapper_bridged(from) && simple_op('m', from, to, 0, 0, 0, &r))
		return r;
	RESOLVE(rename);
	return REAL(rename)(from, to);
}

int chown(const char *path, uid_t uid, gid_t gid)
{
	int r;
	if (mapper_bridged(path) && simple_op('o', path, NULL, 0, 0, 0, &r))
		return r;
	RESOLVE(chown);
	return REAL(chown)(path, uid, gid);
}

int chmod(const char *path, mode_t mode)
{
	int r;
	if (mapper_bridged(path) && simple_op('o', path, NULL, 0, 0, 0, &r))
		return r;
	RESOLVE(chmod);
	return REAL(chmod)(path, mode);
}

ssize_t readlink(const char *path, char *buf, size_t size)
{
	unsigned char *data;
	size_t n;
	int e;
	if (bridged(path)) {
		e = path_op('l', path, NULL, 0, 0, 0, &data, &n);
		if (e >= 0) {
			if (e) {
				free(data);
				errno = e;
				return -1;
			}
			if (n > size)
				n = size;
			memcpy(buf, data, n);
			free(data);
			return n;
		}
	}
	RESOLVE(readlink);
	return REAL(readlink)(path, buf, size);
}

/* realpath of a bridged path: nothing there is a link but /sys's. */
static char *bridged_realpath(const char *path, char *resolved, int *done)
{
	struct stat64 st;
	int r;
	*done = 0;
	if (!bridged(path) || strstr(path, "/.") || strstr(path, "//") || under(path, "/sys"))
		return NULL;
	if (!bridged_stat(path, &st, &r))
		return NULL;
	*done = 1;
	if (r)
		return NULL;
	if (!resolved)
		return strdup(path);
	if (strlen(path) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return strcpy(resolved, path);
}

char *realpath(const char *path, char *resolved)
{
	int done;
	char *r = bridged_realpath(path, resolved, &done);
	if (done)
		return r;
	RESOLVE(realpath);
	return REAL(realpath)(path, resolved);
}

char *canonicalize_file_name(const char *path)
{
	int done;
	char *r = bridged_realpath(path, NULL, &done);
	if (done)
		return r;
	RESOLVE(canonicalize_file_name);
	return REAL(canonicalize_file_name)(path);
}

/* ---- directories ---- */

/* A bridged directory: a DIR * that only these functions ever see. */
struct bdir {
	unsigned char *data;
	size_t n, off;
	struct dirent ent;
	struct dirent64 ent64;
};

static struct bdir *dirs[MAX_DIRS];

static struct bdir *find_dir(DIR *d)
{
	int i;
	for (i = 0; i < MAX_DIRS; i++)
		if (dirs[i] && (DIR *)dirs[i] == d)
			return dirs[i];
	return NULL;
}

DIR *opendir(const char *path)
{
	if (bridged(path)) {
		unsigned char *data;
		size_t n;
		int e = path_op('d', path, NULL, 0, 0, 0, &data, &n), i;
		if (e > 0) {
			free(data);
			errno = e;
			return NULL;
		}
		if (e == 0) {
			struct bdir *b = calloc(1, sizeof(*b));
			if (!b) {
				free(data);
				return NULL;
			}
			b->data = data;
			b->n = n;
			pthread_mutex_lock(&lock);
			for (i = 0; i < MAX_DIRS && dirs[i]; i++)
				;
			if (i < MAX_DIRS)
				dirs[i] = b;
			pthread_mutex_unlock(&lock);
			if (i == MAX_DIRS) {
				free(data);
				free(b);
				errno = EMFILE;
				return NULL;
			}
			return (DIR *)b;
		}
	}
	RESOLVE(opendir);
	return REAL(opendir)(path);
}

/* next_entry reads the next NAME NUL TYPE NUL entry. */
static int next_entry(struct bdir *b, const char **name, unsigned char *type)
{
	const char *t;
	if (b->off >= b->n)
		return 0;
	*name = (const char *)b->data + b->off;
	b->off += strlen(*name) + 1;
	if (b->off >= b->n)
		return 0;
	t = (const char *)b->data + b->off;
	*type = (unsigned char)atoi(t);
	b->off += strlen(t) + 1;
	return 1;
}

/* READDIR is readdir() or readdir64() (ent the bdir's entry of that type). */
#define READDIR(name, type, ent)                                                                  \
	type *name(DIR *d)                                                                         \
	{                                                                                          \
		struct bdir *b = find_dir(d);                                                      \
		if (b) {                                                                           \
			const char *n;                                                             \
			unsigned char t;                                                           \
			if (!next_entry(b, &n, &t))                                                \
				return NULL;                                                       \
			memset(&b->ent, 0, sizeof(b->ent));                                        \
			b->ent.d_ino = b->off;                                                     \
			b->ent.d_type = t;                                                         \
			b->ent.d_reclen = sizeof(b->ent);                                          \
			snprintf(b->ent.d_name, sizeof(b->ent.d_name), "%s", n);                   \
			return &b->ent;                                                            \
		}                                                                                  \
		RESOLVE(name);                                                                     \
		return REAL(name)(d);                                                              \
	}

READDIR(readdir, struct dirent, ent)
READDIR(readdir64, struct dirent64, ent64)

int closedir(DIR *d)
{
	struct bdir *b = find_dir(d);
	if (b) {
		int i;
		pthread_mutex_lock(&lock);
		for (i = 0; i < MAX_DIRS; i++)
			if (dirs[i] == b)
				dirs[i] = NULL;
		pthread_mutex_unlock(&lock);
		free(b->data);
		free(b);
		return 0;
	}
	RESOLVE(closedir);
	return REAL(closedir)(d);
}
