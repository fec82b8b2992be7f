/* tr_cli_replay.c - `tickring replay`: placeholder.
 *
 * The real command (replay capture files into a region) is being written
 * separately and replaces this file; until then the command links and says
 * it is not there.
 */
#include "tr_cli.h"

#include <stdio.h>

int tr_cli_replay(int argc, char **argv, const char *instance)
{
	(void)argc;
	(void)argv;
	(void)instance;
	fputs("tickring replay: not built yet\n", stderr);
	return 1;
}
