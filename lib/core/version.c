#include "core/internal.h"

const char *hosm_version_string(void)
{
    return HOSM_VERSION_STRING;
}

int hosm_version_number(void)
{
    return HOSM_VERSION_NUMBER;
}
