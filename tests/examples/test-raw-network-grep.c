/* RawNetworkGrep and RawTextSender as the built programs they are: raw_text_sender serves
 * length-prefixed blocks on an ephemeral port of 127.0.0.1, raw_network_grep greps them with
 * two raw socket streams. Batch boundaries depend on timing, so the grep counts are checked
 * exactly per printed line and in total over all batches. */
#include "example-fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define TIMEOUT_US (20 * G_USEC_PER_SEC)

/* Three of its four lines contain "the" ("other" does). 29 bytes. */
static const char text[] = "the cat\nsat on\nthe mat\nother\n";

static char *text_path;

static void write_text(void)
{
    int fd = g_file_open_tmp("ember-raw-XXXXXX", &text_path, NULL);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
}

static void remove_text(void)
{
    unlink(text_path);
    g_free(text_path);
}

/* raw_text_sender --blocks BLOCKS --clients CLIENTS on a free port with the text and
 * block_size; returns the port, read from its first line. */
static int start_sender(proc *sender, const char *blocks, const char *clients,
                        const char *block_size)
{
    const char *argv[] = {EXAMPLES "raw_text_sender",
                          "--blocks",
                          blocks,
                          "--clients",
                          clients,
                          "0",
                          text_path,
                          block_size,
                          "100000000",
                          NULL};
    *sender = spawn(argv);
    GString *first = g_string_new(NULL);
    cr_assert(read_until(sender->out, first, "\n", g_get_monotonic_time() + TIMEOUT_US));
    int port = 0;
    cr_assert_eq(sscanf(first->str, "Listening on 127.0.0.1:%d\n", &port), 1, "%s", first->str);
    g_string_free(first, TRUE);
    return port;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s", g_strerror(errno));
    return fd;
}

TestSuite(raw_network_grep, .init = write_text, .fini = remove_text);

Test(raw_network_grep, raw_text_sender_fills_each_block_with_whole_lines_after_its_length)
{
    proc sender;
    /* A block of at least 40 bytes: the text (29) and its first two lines again (15): 44. */
    int port = start_sender(&sender, "2", "1", "40");
    int fd = connect_to(port);
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *got = g_string_new(NULL);
    cr_assert(read_until(fd, got, NULL, deadline));
    static const char block[] = "\0\0\0\x2c"
                                "the cat\nsat on\nthe mat\nother\nthe cat\nsat on\n";
    cr_assert_eq(got->len, 2 * (sizeof block - 1));
    cr_assert_eq(memcmp(got->str, block, sizeof block - 1), 0);
    cr_assert_eq(memcmp(got->str + sizeof block - 1, block, sizeof block - 1), 0);
    int status = wait_exit(&sender, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    close(fd);
    g_string_free(got, TRUE);
}

Test(raw_network_grep, counts_every_record_containing_the_over_all_streams)
{
    proc sender;
    /* Each of the two streams gets 5 blocks holding the text once: 3 matches a block. */
    int port = start_sender(&sender, "5", "2", "29");
    char port_text[16];
    g_snprintf(port_text, sizeof port_text, "%d", port);
    const char *argv[] =
        {EXAMPLES "raw_network_grep", "2", "127.0.0.1", port_text, "500", "4", NULL};
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    proc grep = spawn(argv);
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(grep.out, printed, NULL, deadline), "no end of output");
    int status = wait_exit(&grep, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    status = wait_exit(&sender, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);

    char **lines = g_strsplit(printed->str, "\n", -1);
    cr_assert_eq(g_strv_length(lines), 5, "four batches, one line each:\n%s", printed->str);
    cr_assert_str_eq(lines[4], "");
    long total = 0;
    for (int i = 0; i < 4; i++) {
        long n;
        int used = 0;
        cr_assert(sscanf(lines[i], "Grep count: %ld%n", &n, &used) == 1 && !lines[i][used], "%s",
                  lines[i]);
        total += n;
    }
    cr_assert_eq(total, 2 * 5 * 3, "%s", printed->str);
    g_strfreev(lines);
    g_string_free(printed, TRUE);
}

Test(raw_network_grep, wrong_arguments_print_sparks_usage)
{
    const char *argv[] = {EXAMPLES "raw_network_grep", "2", "127.0.0.1", NULL};
    proc grep;
    GError *err = NULL;
    int err_fd;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                       NULL, &grep.pid, NULL, &grep.out, &err_fd, &err));
    gint64 deadline = g_get_monotonic_time() + TIMEOUT_US;
    GString *usage = g_string_new(NULL);
    cr_assert(read_until(err_fd, usage, NULL, deadline));
    close(err_fd);
    int status = wait_exit(&grep, deadline);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "status %d", status);
    cr_assert_str_eq(usage->str, "Usage: RawNetworkGrep <numStreams> <host> <port> <batchMillis> "
                                 "[<batches>]\n");
    g_string_free(usage, TRUE);
}
