/* smtp.c - one e-mail over SMTP with libcurl (STARTTLS when offered, AUTH when configured). */
#include "notifier.h"
#include "say.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
notif_smtp_conf_load(notif_smtp_conf_t *conf, const koop_config_t *cfg, char *err, size_t errlen)
{
    memset(conf, 0, sizeof *conf);
    snprintf(conf->url, sizeof conf->url, "%s", cfg->smtp_url);
    snprintf(conf->user, sizeof conf->user, "%s", cfg->smtp_user);
    snprintf(conf->from, sizeof conf->from, "%s", cfg->mail_from[0] ? cfg->mail_from : "koop@localhost");
    snprintf(conf->ca_file, sizeof conf->ca_file, "%s", cfg->smtp_ca_file);
    if (cfg->smtp_url[0] && strncmp(cfg->smtp_url, "smtp://", 7) != 0 && strncmp(cfg->smtp_url, "smtps://", 8) != 0) {
        snprintf(err, errlen, "%s: smtp_url musi zaczynać się od smtp:// lub smtps:// (jest '%s')", cfg->path,
                 cfg->smtp_url);
        return -1;
    }
    if (cfg->smtp_password_file[0]) {
        FILE *f = fopen(cfg->smtp_password_file, "r");
        size_t len;
        if (!f) {
            snprintf(err, errlen, "nie można odczytać pliku hasła SMTP %s", cfg->smtp_password_file);
            return -1;
        }
        len = fread(conf->password, 1, sizeof conf->password - 1, f);
        fclose(f);
        conf->password[len] = '\0';
        conf->password[strcspn(conf->password, "\r\n")] = '\0';
    }
    return 0;
}

typedef struct {
    const char *data;
    size_t len;
    size_t pos;
    notif_smtp_commit_fn commit;
    void *commit_ctx;
    int committed;
} s_payload;

/* Hands the message to curl. When all of it is handed over, curl will next
 * send the terminating "." that makes the relay take the mail: that is the
 * commit point, so the delivery is recorded durably first (commit) and only
 * then is the end of the data given to curl. A failed commit aborts the
 * transfer before the ".": the relay drops the partial message. */
static size_t
s_read(char *buf, size_t size, size_t nmemb, void *user)
{
    s_payload *p = user;
    size_t room = size * nmemb, left = p->len - p->pos;
    size_t n = left < room ? left : room;
    if (n == 0 && !p->committed && p->commit) {
        if (p->commit(p->commit_ctx) != 0)
            return CURL_READFUNC_ABORT;
        p->committed = 1;
    }
    memcpy(buf, p->data + p->pos, n);
    p->pos += n;
    return n;
}

/* "=?UTF-8?B?...?=" for a header with non-ASCII text. */
static void
s_encode_header(const char *text, char *out, size_t outlen)
{
    char b64[1024];
    size_t len = strlen(text);
    int ascii = 1;
    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char)text[i] < 0x80;
    if (ascii || len > 700) {
        snprintf(out, outlen, "%s", text);
        return;
    }
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)text, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, outlen, "=?UTF-8?B?%s?=", b64);
}

static int s_curl_ready;

int
notif_smtp_global_init(char *err, size_t errlen)
{
    CURLcode rc;
    if (s_curl_ready)
        return 0;
    if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
        snprintf(err, errlen, "nie można przygotować biblioteki poczty (libcurl): %s", curl_easy_strerror(rc));
        return -1;
    }
    s_curl_ready = 1;
    return 0;
}

void
notif_smtp_global_cleanup(void)
{
    if (s_curl_ready)
        curl_global_cleanup();
    s_curl_ready = 0;
}

int
notif_smtp_send(const notif_smtp_conf_t *conf, const char *to, const char *subject, const char *body,
                const char *message_id, notif_smtp_commit_fn commit, void *commit_ctx, int *committed,
                char *err, size_t errlen)
{
    CURL *curl;
    CURLcode res;
    struct curl_slist *rcpt = NULL;
    char from[300], subj[1200], date[64], *msg = NULL;
    size_t cap;
    s_payload p = {0};
    time_t now = time(NULL);
    struct tm tm;
    int rc = -1;

    if (!conf->url[0]) {
        snprintf(err, errlen, "nie skonfigurowano serwera poczty (smtp_url w sekcji [notifier])");
        return -1;
    }
    curl = curl_easy_init();
    if (!curl) {
        snprintf(err, errlen, "curl_easy_init nie powiodło się");
        return -1;
    }
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(from, sizeof from, "<%s>", conf->from);
    s_encode_header(subject, subj, sizeof subj);
    cap = strlen(body) * 2 + 2048;
    msg = malloc(cap);
    if (!msg) {
        snprintf(err, errlen, "brak pamięci");
        goto done;
    }
    {
        /* headers, then the body with CRLF line ends */
        int n = snprintf(msg, cap,
                         "Date: %s\r\nTo: <%s>\r\nFrom: koop <%s>\r\nSubject: %s\r\nMessage-ID: <%s@koop>\r\n"
                         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: 8bit\r\n\r\n",
                         date, to, conf->from, subj, message_id);
        size_t k = (size_t)n;
        for (const char *b = body; *b && k + 3 < cap; b++) {
            if (*b == '\n' && (b == body || b[-1] != '\r'))
                msg[k++] = '\r';
            msg[k++] = *b;
        }
        msg[k++] = '\r';
        msg[k++] = '\n';
        msg[k] = '\0';
        p.data = msg;
        p.len = k;
        p.pos = 0;
        p.commit = commit;
        p.commit_ctx = commit_ctx;
    }
    rcpt = curl_slist_append(NULL, to);
    if (!rcpt) {
        snprintf(err, errlen, "brak pamięci");
        goto done;
    }
    curl_easy_setopt(curl, CURLOPT_URL, conf->url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &p);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY); /* STARTTLS when the relay offers it */
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (conf->ca_file[0])
        curl_easy_setopt(curl, CURLOPT_CAINFO, conf->ca_file);
    if (conf->user[0]) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, conf->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, conf->password);
    }
    res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (res == CURLE_LOGIN_DENIED || code == 535 || code == 534 || code == 530)
            snprintf(err, errlen, "serwer poczty %s odrzucił dane logowania (smtp_user/smtp_password_file)", conf->url);
        else if (res == CURLE_PEER_FAILED_VERIFICATION || res == CURLE_SSL_CACERT_BADFILE ||
                 res == CURLE_SSL_CONNECT_ERROR)
            snprintf(err, errlen, "serwer poczty %s: połączenie TLS odrzucone (%s) – sprawdź smtp_ca_file", conf->url,
                     curl_easy_strerror(res));
        else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST || res == CURLE_OPERATION_TIMEDOUT)
            snprintf(err, errlen, "serwer poczty %s nieosiągalny: %s", conf->url, curl_easy_strerror(res));
        else
            snprintf(err, errlen, "wysyłka przez %s nie powiodła się: %s (kod %ld)", conf->url,
                     curl_easy_strerror(res), code);
        goto done;
    }
    rc = 0;
done:
    if (committed)
        *committed = p.committed;
    curl_slist_free_all(rcpt);
    free(msg);
    curl_easy_cleanup(curl);
    return rc;
}
