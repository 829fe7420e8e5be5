/*
 * attachkit's launcher (package.json "bin"): starts the CLI from its V8
 * start-up snapshot when node can load it, and from its modules otherwise
 * (docs/startup.md).
 *
 *   snapshot: <node> --snapshot-blob <cli>/dist/snapshot/attachkit.blob -- ARGS
 *   modules:  node <cli>/bin/run.js ARGS     (node from PATH, as its #! line)
 *
 * The snapshot is used when dist/snapshot/node names the node binary that
 * built it and that file is unchanged (inode, size, mtime: node refuses a
 * snapshot made by another version), and node gets no NODE_OPTIONS (V8
 * flags other than the snapshot's make node refuse it too; in a privileged
 * process, node never gets it: below); not for --version,
 * which bin/run.js answers from three small modules sooner than node
 * deserializes the snapshot's heap. The snapshot itself goes on from the
 * modules when a file it was built from has changed.
 *
 * A program, not a shell script: a shell exports PWD, and the attached
 * command gets the caller's environment as it was, as with lxc-attach.
 *
 * NODE_EXTRA_CA_CERTS goes to node as ATTACHKIT_NODE_EXTRA_CA_CERTS, in the
 * same place: node reads and parses that file at every start (35 ms for
 * Debian's bundle on the project's machine) for TLS that attachkit never
 * makes; main.ts gives it back its name before anything reads the
 * environment, so the command gets it as it was.
 *
 * In a privileged process (euid 0, or any effective capability), the
 * variables that make node (or the dynamic loader that starts it) load code
 * from a path they name go to node the same way, renamed in place with one
 * more ATTACHKIT_ before their name: NODE_OPTIONS (--require, --import,
 * --loader), NODE_PATH, OPENSSL_CONF and OPENSSL_MODULES/OPENSSL_ENGINES
 * (an OpenSSL provider or engine, loaded at node's start), LD_PRELOAD and
 * LD_AUDIT. Whoever can set root's environment must not run code as root
 * through attachkit. So that main.ts can always strip that one ATTACHKIT_
 * again, a name that already is one of them with ATTACHKIT_ before it
 * (ATTACHKIT_NODE_OPTIONS, ATTACHKIT_ATTACHKIT_NODE_OPTIONS, ...) gets one
 * more too, privileged or not: the command gets every variable as it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

#define EXTRA_CA "NODE_EXTRA_CA_CERTS="
#define PREFIX "ATTACHKIT_"
#define HIDDEN_CA PREFIX EXTRA_CA

/* Load code from the path they name, in node or its dynamic loader; hidden
 * from node in a privileged process (main.ts has the same list). */
static const char *const CODE_LOADERS[] = {
	"NODE_OPTIONS", "NODE_PATH", "OPENSSL_CONF", "OPENSSL_MODULES", "OPENSSL_ENGINES", "LD_PRELOAD", "LD_AUDIT", NULL,
};

static int starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* euid 0, or any effective capability (capget: no kernel headers needed). */
static int privileged(void)
{
	struct { uint32_t version; int pid; } header = { 0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0 };
	struct { uint32_t effective, permitted, inheritable; } data[2];
	if (geteuid() == 0)
		return 1;
	if (syscall(SYS_capget, &header, data) != 0)
		return 1;
	return data[0].effective || data[1].effective;
}

/* Whether the entry gets one more ATTACHKIT_: a code loader, as it is when
 * privileged, and with ATTACHKIT_ before it always. */
static int hidden_loader(const char *entry, int privileged)
{
	int prefixed = 0;
	for (; starts(entry, PREFIX); entry += strlen(PREFIX))
		prefixed = 1;
	for (const char *const *name = CODE_LOADERS; *name; name++)
		if (starts(entry, *name) && entry[strlen(*name)] == '=')
			return prefixed || privileged;
	return 0;
}

/* node's environment: environ with NODE_EXTRA_CA_CERTS renamed in place (not
 * when the new name is taken already), and the code loaders (above); NULL
 * when out of memory. */
static char **hide_from_node(int privileged)
{
	size_t n = 0;
	int ca_taken = 0;
	for (; environ[n]; n++)
		ca_taken |= starts(environ[n], HIDDEN_CA);
	char **env = calloc(n + 1, sizeof(char *));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		env[i] = environ[i];
		if ((!ca_taken && starts(environ[i], EXTRA_CA)) || hidden_loader(environ[i], privileged)) {
			env[i] = malloc(strlen(PREFIX) + strlen(environ[i]) + 1);
			if (!env[i])
				return NULL;
			strcpy(env[i], PREFIX);
			strcat(env[i], environ[i]);
		}
	}
	return env;
}

/* dist/snapshot/node: the node binary's path, then "ino size mtime_sec mtime_nsec". */
static int node_unchanged(const char *record, char *node, size_t size)
{
	char buf[PATH_MAX + 128];
	int fd = open(record, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (!nl || (size_t)(nl - buf) >= size)
		return 0;
	memcpy(node, buf, (size_t)(nl - buf));
	node[nl - buf] = '\0';
	unsigned long long ino, len, sec, nsec;
	struct stat st;
	return sscanf(nl + 1, "%llu %llu %llu %llu", &ino, &len, &sec, &nsec) == 4 &&
	       stat(node, &st) == 0 && (unsigned long long)st.st_ino == ino &&
	       (unsigned long long)st.st_size == len &&
	       (unsigned long long)st.st_mtim.tv_sec == sec &&
	       (unsigned long long)st.st_mtim.tv_nsec == nsec;
}

/* --version among the options (before --), as main.ts reads it. */
static int version_only(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--version") == 0)
			return 1;
	return 0;
}

/* dir/rel into out; 0 when it does not fit. */
static int join(char *out, const char *dir, const char *rel)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, rel);
	return n > 0 && n < PATH_MAX;
}

int main(int argc, char **argv)
{
	/* <cli>/build/attachkit, wherever it is linked from. */
	char cli[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", cli, sizeof(cli) - 1);
	if (n <= 0) {
		fprintf(stderr, "attachkit: cannot find the launcher itself: /proc/self/exe: %s\n", strerror(errno));
		return 127;
	}
	cli[n] = '\0';
	for (int i = 0; i < 2; i++) {
		char *slash = strrchr(cli, '/');
		if (!slash)
			return 127;
		*slash = '\0';
	}

	environ = hide_from_node(privileged());
	if (!environ) {
		fprintf(stderr, "attachkit: out of memory\n");
		return 127;
	}
	char **args = calloc((size_t)argc + 4, sizeof(char *));
	char blob[PATH_MAX], record[PATH_MAX], node[PATH_MAX], run[PATH_MAX];
	if (!args)
		return 127;
	const char *options = getenv("NODE_OPTIONS");
	if ((!options || !*options) && !version_only(argc, argv) && join(blob, cli, "dist/snapshot/attachkit.blob") && access(blob, R_OK) == 0 &&
	    join(record, cli, "dist/snapshot/node") && node_unchanged(record, node, sizeof(node))) {
		args[0] = node;
		args[1] = "--snapshot-blob";
		args[2] = blob;
		args[3] = "--";
		memcpy(args + 4, argv + 1, (size_t)(argc - 1) * sizeof(char *));
		execv(node, args);
	}
	if (!join(run, cli, "bin/run.js")) {
		fprintf(stderr, "attachkit: path too long: %s\n", cli);
		return 127;
	}
	args[0] = "node";
	args[1] = run;
	memcpy(args + 2, argv + 1, (size_t)(argc - 1) * sizeof(char *));
	args[argc + 1] = NULL;
	execvp("node", args);
	fprintf(stderr, "attachkit: cannot run node: %s\n", strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
