/*
 * words.c: the words of the language, for the shell's tab completion and
 * for `vigil check` suggestions: keywords and function names.
 */
#include "ast.h"
#include "vigil/vg_query.h"

size_t vg_q_words(const char **out, size_t cap)
{
    size_t n = 0;
    for (int k = VG_QT_KW_FIRST; k < VG_QT_KW_END; k++)
        if (n < cap)
            out[n++] = vg_q_tok_text((vg_q_tok_kind_t)k);
    size_t nf;
    const vg_q_func_t *f = vg_q_funcs(&nf);
    for (size_t i = 0; i < nf; i++)
        if (n < cap)
            out[n++] = f[i].name;
    return n;
}
