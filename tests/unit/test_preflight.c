/* Which tcp:// endpoints a service that takes a person may listen on. */
#include "preflight.h"

#include <criterion/criterion.h>

Test(preflight_endpoints, loopback_is_127_slash_8_and_ipv6_one_only)
{
    const char *yes[] = {"tcp://127.0.0.1:7811", "tcp://127.1.2.3:1", "tcp://[::1]:7811"};
    const char *no[] = {"tcp://0.0.0.0:7811",   "tcp://*:7811",       "tcp://localhost:7811",
                        "tcp://lo:7811",        "tcp://10.0.0.1:7811", "tcp://[::]:7811",
                        "tcp://128.0.0.1:7811", "tcp://127.0.0.1",     "tcp://[::1]7811",
                        "ipc:///run/koop/x.sock"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        cr_expect(koop_preflight_tcp_is_loopback(yes[i]), "%s is loopback", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        cr_expect(!koop_preflight_tcp_is_loopback(no[i]), "%s is not loopback", no[i]);
}

