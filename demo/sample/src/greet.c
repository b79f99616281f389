/* greet: says hello. */
#include <stdio.h>

#include "greet.h"

int greet(char *buf, unsigned long len, const char *name)
{
    return snprintf(buf, len, "hello, %s\n", name ? name : "world");
}
