/* The gateway's check of web UI paths (route.c): which paths name a file. */
#include "../../services/gateway/gateway.h"

#include <criterion/criterion.h>
#include <string.h>

Test(gateway_static, paths_that_name_a_file)
{
    char rel[GW_STATIC_NAME_MAX + 16];
    cr_assert_eq(gw_static_path("/", rel, sizeof rel), 0);
    cr_assert_str_eq(rel, "index.html");
    cr_assert_eq(gw_static_path("/js/views/ipw.js", rel, sizeof rel), 0);
    cr_assert_str_eq(rel, "js/views/ipw.js");
    cr_assert_eq(gw_static_path("/i18n/pl.json", rel, sizeof rel), 0);
    cr_assert_str_eq(gw_static_type("css/koop.css"), "text/css; charset=utf-8");
    cr_assert_str_eq(gw_static_type("js/app.js"), "text/javascript; charset=utf-8");
    cr_assert_str_eq(gw_static_type("index.html"), "text/html; charset=utf-8");
}

Test(gateway_static, traversal_hidden_names_directories_and_other_files_are_not)
{
    static const char *const bad[] = {
        "/..", "/../etc/passwd", "/js/../../koop.conf", "/.git/config", "/js/.hidden.js", "/js/", "/js",
        "//index.html", "/js//app.js", "/a/b/c/d/e.js", "/index.html\\", "/ind ex.html", "/indeks.html%00",
        "/koop.conf", "/data.mdb", "/index.HTML", "/js\\app.js", "/index.html/", "", "index.html", "/ąę.html",
    };
    char rel[GW_STATIC_NAME_MAX + 16];
    char longp[GW_STATIC_NAME_MAX + 40];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(gw_static_path(bad[i], rel, sizeof rel), -1, "%s was taken for a file", bad[i]);
    memset(longp, 'a', sizeof longp);
    longp[0] = '/';
    memcpy(longp + sizeof longp - 6, ".html", 6);
    cr_assert_eq(gw_static_path(longp, rel, sizeof rel), -1);
    cr_assert_eq(gw_static_path("/index.html", rel, 5), -1, "a path longer than the buffer");
    cr_assert_null(gw_static_type("koop.conf"));
}
