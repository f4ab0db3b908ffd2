/*
 * deploy.c — naming, loading and routing model versions (see deploy.h).
 */
#include "app/deploy.h"

#include "app/cli.h"
#include "app/store.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool deploy_to_candidate(int64_t conv, int share)
{
    /* splitmix64's finalizer: consecutive ids land far apart. */
    uint64_t z = (uint64_t)conv + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (int)(z % 10000) < share * 100;
}

db_status deploy_route_conv(db *d, int64_t conv, int64_t pin_id, deploy_route *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char arm[16];
    int64_t given = 0;
    db_status s = db_conv_arm_get(d, conv, arm, &given);
    if (s != DB_OK)
        goto fail;
    if (pin_id > 0) {
        out->routed = true;
        out->model_id = pin_id;
        snprintf(out->arm, sizeof out->arm, "pinned");
        if (strcmp(arm, "pinned") || given != pin_id)
            s = db_conv_arm_set(d, conv, "pinned", pin_id);
        goto done;
    }
    db_deployment dep;
    s = db_deployment_get(d, &dep);
    if (s == DB_NOTFOUND) {
        if (!strcmp(arm, "pinned") && given) { /* pinned earlier: stays */
            out->routed = true;
            out->model_id = given;
            snprintf(out->arm, sizeof out->arm, "pinned");
        }
        return DB_OK;
    }
    if (s != DB_OK)
        goto fail;
    out->routed = true;
    bool candidate_live = dep.candidate_id && dep.share > 0;
    if (given && (!strcmp(arm, "pinned") || (!strcmp(arm, "stable") && given == dep.stable_id) ||
                  (!strcmp(arm, "candidate") && candidate_live && given == dep.candidate_id))) {
        out->model_id = given;
        snprintf(out->arm, sizeof out->arm, "%s", arm);
        return DB_OK;
    }
    bool cand = candidate_live && deploy_to_candidate(conv, dep.share);
    out->model_id = cand ? dep.candidate_id : dep.stable_id;
    snprintf(out->arm, sizeof out->arm, "%s", cand ? "candidate" : "stable");
    s = db_conv_arm_set(d, conv, out->arm, out->model_id);
done:
    if (s == DB_OK)
        return s;
fail:
    util_errf(err, errlen, "%s", db_errmsg(d));
    return s;
}

remote_opts deploy_remote_opts(const config *cfg, const char *url, const char *model)
{
    remote_opts ro = remote_defaults();
    ro.base_url = url;
    ro.model = model;
    ro.api_key = getenv(cfg->api_key_env);
    ro.connect_timeout_ms = cfg->connect_timeout_ms;
    ro.first_token_timeout_ms = cfg->first_token_timeout_ms;
    ro.idle_timeout_ms = cfg->idle_timeout_ms;
    ro.total_timeout_ms = cfg->total_timeout_ms;
    ro.retries = cfg->retries;
    return ro;
}

int deploy_version_load(db *d, int64_t id, const config *cfg, deploy_version *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->id = id;
    db_model dm;
    if (db_model_get(d, id, &dm) != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(d));
        return -1;
    }
    snprintf(out->name, sizeof out->name, "%s", dm.display_name);
    int rc = -1;
    if (!strcmp(dm.backend, "remote")) {
        out->remote = true;
        out->url = xstrdup(dm.url ? dm.url : "");
        /* The key is "remote:" URL "#" model. */
        const char *hash = strrchr(dm.key, '#');
        out->remote_model = xstrdup(hash ? hash + 1 : "default");
        snprintf(out->quant, sizeof out->quant, "remote");
        out->ro = deploy_remote_opts(cfg, out->url, out->remote_model);
        rc = 0;
        goto out;
    }
    if (!dm.path) {
        util_errf(err, errlen, "version %s (SHA-256 %.12s) has no known file: deploy it by its path once", dm.display_name,
                  dm.sha256 ? dm.sha256 : "?");
        goto out;
    }
    char hex[65];
    if (store_file_sha256(d, dm.path, hex, err, errlen) != DB_OK)
        goto out;
    if (!dm.sha256 || strcmp(hex, dm.sha256)) {
        util_errf(err, errlen,
                  "refusing %s: its SHA-256 is now %s, but version %s is %s (the file changed; deploy the new "
                  "file as a version of its own)",
                  dm.path, hex, dm.display_name, dm.sha256 ? dm.sha256 : "unknown");
        goto out;
    }
    if (model_load(&out->m, dm.path, err, errlen) != 0 || tok_load(&out->v, out->m->file, err, errlen) != 0) {
        deploy_version_free(out);
        goto out;
    }
    snprintf(out->quant, sizeof out->quant, "%s", out->m->quant);
    rc = 0;
out:
    db_model_clear(&dm);
    return rc;
}

void deploy_version_free(deploy_version *v)
{
    if (!v)
        return;
    tok_free(v->v);
    model_free(v->m);
    free(v->url);
    free(v->remote_model);
    int64_t id = v->id;
    memset(v, 0, sizeof *v);
    v->id = id;
}

int deploy_find_version(db *d, const char *version, const char *remote_model, int64_t *id, char *err,
                        size_t errlen)
{
    *id = 0;
    struct stat sb;
    if (!strncmp(version, "http://", 7) || !strncmp(version, "https://", 8)) {
        const char *bad_url = cli_backend_problem(version);
        if (bad_url) {
            util_errf(err, errlen, "'%s' %s", version, bad_url);
            return EXIT_USAGE;
        }
        db_model_info info = {.url = version, .name = remote_model ? remote_model : "default"};
        if (db_model_use(d, &info, id) != DB_OK) {
            util_errf(err, errlen, "%s", db_errmsg(d));
            return EXIT_FAIL;
        }
        return EXIT_OK;
    }
    if (stat(version, &sb) == 0 && S_ISREG(sb.st_mode)) {
        model *m = NULL;
        if (model_load(&m, version, err, errlen) != 0)
            return EXIT_FAIL;
        db_status s = store_model_local(d, version, m, id, err, errlen);
        model_free(m);
        return s == DB_OK ? EXIT_OK : EXIT_FAIL;
    }
    db_model *list;
    size_t n;
    db_status s = db_models_match(d, version, &list, &n);
    if (s != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(d));
        return EXIT_FAIL;
    }
    if (n > 1) {
        strbuf sb2 = {0};
        sb_printf(&sb2, "'%s' matches %zu versions:", version, n);
        for (size_t i = 0; i < n; i++)
            sb_printf(&sb2, " %s (%.12s)", list[i].display_name, list[i].sha256 ? list[i].sha256 : list[i].key);
        sb_puts(&sb2, "; give more of the SHA-256");
        util_errf(err, errlen, "%s", sb2.data);
        sb_free(&sb2);
        db_models_free(list, n);
        return EXIT_USAGE;
    }
    *id = list[0].id;
    db_models_free(list, n);
    return EXIT_OK;
}
