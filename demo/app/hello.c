/* hello: the program strata's demo builds in a sandbox. Its header,
 * greet.h, comes from another layer (demo/greet). */
#include <stdio.h>

#include "greet.h"

int main(int argc, char **argv)
{
    char line[128];
    greet(line, sizeof(line), argc > 1 ? argv[1] : "strata");
    fputs(line, stdout);
    return 0;
}
