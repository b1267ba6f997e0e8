/*
 * The library and the header it was built with agree on the version:
 * hosm_version_number() and hosm_version_string() match the HOSM_VERSION_*
 * macros, the macros agree with each other, and (when given) with the
 * project version passed as argv[1].
 */
#include <hosm.h>

#include <stdio.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "FAIL: %s\n", what);
        failures++;
    }
}

int main(int argc, char **argv)
{
    const char *s = hosm_version_string();
    int n = hosm_version_number();
    char from_macros[64];

    printf("hosm_version_string() = \"%s\", hosm_version_number() = %d\n", s ? s : "(null)", n);
    printf("HOSM_VERSION_STRING = \"%s\", HOSM_VERSION_NUMBER = %d (%d.%d.%d)\n",
           HOSM_VERSION_STRING, HOSM_VERSION_NUMBER, HOSM_VERSION_MAJOR, HOSM_VERSION_MINOR,
           HOSM_VERSION_PATCH);

    check(s != NULL, "hosm_version_string() returned NULL");
    if (s == NULL)
        return 1;
    check(s == hosm_version_string(), "hosm_version_string() is not static storage");
    check(n == HOSM_VERSION_NUMBER, "hosm_version_number() != HOSM_VERSION_NUMBER");
    check(strcmp(s, HOSM_VERSION_STRING) == 0, "hosm_version_string() != HOSM_VERSION_STRING");
    check(HOSM_VERSION_NUMBER ==
              HOSM_VERSION_MAJOR * 10000 + HOSM_VERSION_MINOR * 100 + HOSM_VERSION_PATCH,
          "HOSM_VERSION_NUMBER != MAJOR * 10000 + MINOR * 100 + PATCH");
    check(HOSM_VERSION_MINOR >= 0 && HOSM_VERSION_MINOR < 100 && HOSM_VERSION_PATCH >= 0 &&
              HOSM_VERSION_PATCH < 100,
          "MINOR and PATCH must be 0..99 for hosm_version_number() to be unambiguous");
    snprintf(from_macros, sizeof from_macros, "%d.%d.%d", HOSM_VERSION_MAJOR, HOSM_VERSION_MINOR,
             HOSM_VERSION_PATCH);
    check(strcmp(s, from_macros) == 0, "hosm_version_string() != \"MAJOR.MINOR.PATCH\"");
    if (argc > 1)
        check(strcmp(s, argv[1]) == 0, "hosm_version_string() != the project version");

    if (failures)
        return 1;
    printf("OK: version %s agrees everywhere\n", s);
    return 0;
}
