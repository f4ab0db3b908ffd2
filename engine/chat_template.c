/*
 * chat_template.c — template detection and rendering (see chat_template.h).
 *
 * Detection checks families in a fixed order, because some templates
 * contain several families' markers (Phi-3 has both <|user|> and <|end|>;
 * Zephyr has <|user|> but no <|end|>).
 */
#include "engine/chat_template.h"

#include <ctype.h>
#include <string.h>

static const char *const names[CHAT_TMPL_COUNT] = {
    [CHAT_TMPL_CHATML] = "chatml",
    [CHAT_TMPL_LLAMA3] = "llama3",
    [CHAT_TMPL_LLAMA2] = "llama2",
    [CHAT_TMPL_LLAMA2_SYS] = "llama2-sys",
    [CHAT_TMPL_LLAMA2_SYS_BOS] = "llama2-sys-bos",
    [CHAT_TMPL_LLAMA2_SYS_STRIP] = "llama2-sys-strip",
    [CHAT_TMPL_MISTRAL_V1] = "mistral-v1",
    [CHAT_TMPL_MISTRAL_V3] = "mistral-v3",
    [CHAT_TMPL_MISTRAL_V7] = "mistral-v7",
    [CHAT_TMPL_ZEPHYR] = "zephyr",
    [CHAT_TMPL_GEMMA] = "gemma",
    [CHAT_TMPL_PHI3] = "phi3",
};

const char *chat_tmpl_name(chat_tmpl t)
{
    return (unsigned)t < CHAT_TMPL_COUNT ? names[t] : "?";
}

const char *chat_tmpl_names(void)
{
    return "chatml, llama3, llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip, "
           "mistral-v1, mistral-v3, mistral-v7, zephyr, gemma, phi3";
}

bool chat_tmpl_from_name(const char *name, chat_tmpl *out)
{
    for (int t = 0; t < CHAT_TMPL_COUNT; t++) {
        if (strcmp(name, names[t]) == 0) {
            *out = (chat_tmpl)t;
            return true;
        }
    }
    return false;
}

static bool has(const char *text, size_t len, const char *needle)
{
    return memmem(text, len, needle, strlen(needle)) != NULL;
}

chat_tmpl chat_tmpl_detect(const char *text, size_t len, bool *known)
{
    *known = true;
#define HAS(s) has(text, len, s)
    if (len == 0) {
        *known = false;
        return CHAT_TMPL_CHATML;
    }
    if (HAS("<|im_start|>") && !HAS("<|im_sep|>") && !HAS("<end_of_utterance>"))
        return CHAT_TMPL_CHATML;
    if ((len >= 7 && memcmp(text, "mistral", 7) == 0) || HAS("[INST]")) {
        if (HAS("[SYSTEM_PROMPT]"))
            return CHAT_TMPL_MISTRAL_V7;
        if (HAS("' [INST] ' + system_message") || HAS("[AVAILABLE_TOOLS]"))
            return HAS(" [INST]") ? CHAT_TMPL_MISTRAL_V1 : CHAT_TMPL_MISTRAL_V3;
        if (HAS("content.strip()"))
            return CHAT_TMPL_LLAMA2_SYS_STRIP;
        if (HAS("bos_token + '[INST]"))
            return CHAT_TMPL_LLAMA2_SYS_BOS;
        if (HAS("<<SYS>>"))
            return CHAT_TMPL_LLAMA2_SYS;
        return CHAT_TMPL_LLAMA2;
    }
    if (HAS("<|assistant|>") && HAS("<|end|>"))
        return CHAT_TMPL_PHI3;
    if (HAS("<|user|>") && (HAS("<|endoftext|>") || HAS("<|assistant|>")))
        return CHAT_TMPL_ZEPHYR;
    if (HAS("<start_of_turn>"))
        return CHAT_TMPL_GEMMA;
    if (HAS("<|start_header_id|>") && HAS("<|end_header_id|>"))
        return CHAT_TMPL_LLAMA3;
#undef HAS
    *known = false;
    return CHAT_TMPL_CHATML;
}

/* Append s with leading and trailing ASCII whitespace removed. */
static void put_trimmed(strbuf *out, const char *s)
{
    size_t a = 0, b = strlen(s);
    while (a < b && isspace((unsigned char)s[a]))
        a++;
    while (b > a && isspace((unsigned char)s[b - 1]))
        b--;
    sb_append(out, s + a, b - a);
}

static bool is_role(const chat_msg *m, const char *role) { return strcmp(m->role, role) == 0; }

static void apply_llama2(chat_tmpl t, const chat_msg *msgs, size_t n, strbuf *out)
{
    bool with_sys = t != CHAT_TMPL_LLAMA2;
    bool bos_inside = t == CHAT_TMPL_LLAMA2_SYS_BOS;
    bool strip = t == CHAT_TMPL_LLAMA2_SYS_STRIP;
    bool in_turn = true; /* the first [INST] follows the tokenizer's BOS */
    sb_puts(out, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        const chat_msg *m = &msgs[i];
        if (!in_turn) {
            sb_puts(out, bos_inside ? "<s>[INST] " : "[INST] ");
            in_turn = true;
        }
        if (is_role(m, "system") && with_sys)
            sb_puts(out, "<<SYS>>\n");
        if (strip)
            put_trimmed(out, m->content);
        else
            sb_puts(out, m->content);
        if (is_role(m, "system")) {
            sb_puts(out, with_sys ? "\n<</SYS>>\n\n" : "\n");
        } else if (is_role(m, "user")) {
            sb_puts(out, " [/INST]");
        } else {
            sb_puts(out, "</s>");
            in_turn = false;
        }
    }
}

static void apply_mistral(chat_tmpl t, const chat_msg *msgs, size_t n, strbuf *out)
{
    if (t == CHAT_TMPL_MISTRAL_V7) {
        for (size_t i = 0; i < n; i++) {
            const chat_msg *m = &msgs[i];
            if (is_role(m, "system"))
                sb_printf(out, "[SYSTEM_PROMPT] %s[/SYSTEM_PROMPT]", m->content);
            else if (is_role(m, "user"))
                sb_printf(out, "[INST] %s[/INST]", m->content);
            else
                sb_printf(out, " %s</s>", m->content);
        }
        return;
    }
    const char *lead = t == CHAT_TMPL_MISTRAL_V1 ? " " : "";
    bool in_turn = false;
    for (size_t i = 0; i < n; i++) {
        const chat_msg *m = &msgs[i];
        if (!in_turn) {
            sb_printf(out, "%s[INST] ", lead);
            in_turn = true;
        }
        if (is_role(m, "system")) {
            sb_printf(out, "%s\n\n", m->content);
        } else if (is_role(m, "user")) {
            sb_printf(out, "%s%s[/INST]", m->content, lead);
        } else {
            sb_putc(out, ' ');
            if (t == CHAT_TMPL_MISTRAL_V3)
                put_trimmed(out, m->content);
            else
                sb_puts(out, m->content);
            sb_puts(out, "</s>");
            in_turn = false;
        }
    }
}

static void apply_gemma(const chat_msg *msgs, size_t n, bool add_assistant, strbuf *out)
{
    /* Gemma has no system role: the system text opens the next user turn. */
    strbuf sys = {0};
    for (size_t i = 0; i < n; i++) {
        const chat_msg *m = &msgs[i];
        if (is_role(m, "system")) {
            put_trimmed(&sys, m->content);
            continue;
        }
        bool model = is_role(m, "assistant");
        sb_printf(out, "<start_of_turn>%s\n", model ? "model" : m->role);
        if (sys.len && !model) {
            sb_append(out, sys.data, sys.len);
            sb_puts(out, "\n\n");
            sb_clear(&sys);
        }
        put_trimmed(out, m->content);
        sb_puts(out, "<end_of_turn>\n");
    }
    sb_free(&sys);
    if (add_assistant)
        sb_puts(out, "<start_of_turn>model\n");
}

void chat_tmpl_apply(chat_tmpl t, const chat_msg *msgs, size_t n, bool add_assistant, strbuf *out)
{
    switch (t) {
    case CHAT_TMPL_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            sb_printf(out, "<|start_header_id|>%s<|end_header_id|>\n\n", msgs[i].role);
            put_trimmed(out, msgs[i].content);
            sb_puts(out, "<|eot_id|>");
        }
        if (add_assistant)
            sb_puts(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        return;
    case CHAT_TMPL_LLAMA2:
    case CHAT_TMPL_LLAMA2_SYS:
    case CHAT_TMPL_LLAMA2_SYS_BOS:
    case CHAT_TMPL_LLAMA2_SYS_STRIP:
        apply_llama2(t, msgs, n, out);
        return;
    case CHAT_TMPL_MISTRAL_V1:
    case CHAT_TMPL_MISTRAL_V3:
    case CHAT_TMPL_MISTRAL_V7:
        apply_mistral(t, msgs, n, out);
        return;
    case CHAT_TMPL_ZEPHYR:
        for (size_t i = 0; i < n; i++)
            sb_printf(out, "<|%s|>\n%s<|endoftext|>\n", msgs[i].role, msgs[i].content);
        if (add_assistant)
            sb_puts(out, "<|assistant|>\n");
        return;
    case CHAT_TMPL_GEMMA:
        apply_gemma(msgs, n, add_assistant, out);
        return;
    case CHAT_TMPL_PHI3:
        for (size_t i = 0; i < n; i++)
            sb_printf(out, "<|%s|>\n%s<|end|>\n", msgs[i].role, msgs[i].content);
        if (add_assistant)
            sb_puts(out, "<|assistant|>\n");
        return;
    case CHAT_TMPL_CHATML:
    default:
        for (size_t i = 0; i < n; i++)
            sb_printf(out, "<|im_start|>%s\n%s<|im_end|>\n", msgs[i].role, msgs[i].content);
        if (add_assistant)
            sb_puts(out, "<|im_start|>assistant\n");
        return;
    }
}
