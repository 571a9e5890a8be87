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

int main(int argc, char **argv) {
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
