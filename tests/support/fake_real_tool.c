/* A stand-in for the real curl/wget in tests: prints argv[0], every argument
 * and the loop-guard variables, each followed by a NUL byte, then exits with
 * $FAKE_EXIT (default 0). Built by the tests with the machine's cc.
 *
 * Called as the shim's origin check (curl without -L: `... -w %{http_code}
 * ... -- URL`), it plays the origin instead: prints $FAKE_ORIGIN_STATUS
 * (default 200) and appends its arguments, one per line, to
 * $FAKE_CHECK_LOG when that is set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The origin check (`curl -q -s --parallel ... -K -`, one operation per
 * question on stdin): logs the config to $FAKE_CHECK_LOG and answers every
 * operation's write-out with $FAKE_ORIGIN_STATUS (the request with the
 * command's credentials) or $FAKE_ANON_STATUS (without them; default the
 * same), one connection and a fixed ETag, or curl exit $FAKE_ORIGIN_EXIT
 * with no status and no connection. */
static int origin_check(void) {
    static char config[1 << 20];
    size_t n = fread(config, 1, sizeof config - 1, stdin);
    config[n] = 0;
    const char *log = getenv("FAKE_CHECK_LOG");
    if (log) {
        FILE *f = fopen(log, "a");
        if (f) {
            fputs(config, f);
            fputs("--end--\n", f);
            fclose(f);
        }
    }
    const char *status = getenv("FAKE_ORIGIN_STATUS");
    const char *anon = getenv("FAKE_ANON_STATUS");
    const char *exitcode = getenv("FAKE_ORIGIN_EXIT");
    const char *key = "--write-out \"";
    for (char *at = strstr(config, key); at; at = strstr(at, key)) {
        at += strlen(key);
        char *end = strchr(at, '\\');
        if (!end) break;
        int with_credentials = end > at && end[-1] == '1';
        fwrite(at, 1, (size_t)(end - at), stdout);
        if (exitcode)
            printf("\t000\t%s\t0\t0\t\t\t\t\t\n", exitcode);
        else
            printf("\t%s\t0\t1\t0\t\"e1\"\t10\t\t\t\n",
                   with_credentials || !anon ? (status ? status : "200") : anon);
    }
    return 0;
}

int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-K") == 0 && strcmp(argv[i + 1], "-") == 0)
            return origin_check();
    }
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-w") == 0 && strcmp(argv[i + 1], "%{http_code}") == 0) {
            const char *log = getenv("FAKE_CHECK_LOG");
            if (log) {
                FILE *f = fopen(log, "a");
                if (f) {
                    for (int j = 1; j < argc; j++) fprintf(f, "%s\n", argv[j]);
                    fputs("--end--\n", f);
                    fclose(f);
                }
            }
            const char *status = getenv("FAKE_ORIGIN_STATUS");
            fputs(status ? status : "200", stdout);
            return 0;
        }
    }
    for (int i = 0; i < argc; i++) {
        fputs(argv[i], stdout);
        putchar('\0');
    }
    const char *names[] = {"CACHESHIM_HOPS", "CACHESHIM_CHAIN"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(names[i]);
        printf("%s=%s", names[i], v ? v : "");
        putchar('\0');
    }
    const char *code = getenv("FAKE_EXIT");
    return code ? atoi(code) : 0;
}
