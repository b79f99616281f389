/* greet: says hello. */
#ifndef GREET_H
#define GREET_H

/* Writes "hello, NAME" and a newline into buf (at most len bytes, NUL
 * included) and returns the length it would have had, like snprintf. */
int greet(char *buf, unsigned long len, const char *name);

#endif
