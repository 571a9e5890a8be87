/* A stand-in for the real curl/wget in tests: prints argv[0], every argument
 * and the loop-guard variables, each followed by a NUL byte, then exits with
 * $FAKE_EXIT (default 0). Built by the tests with the machine's cc. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
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
