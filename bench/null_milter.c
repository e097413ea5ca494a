/* The libmilter floor for bench/intake.py --floor: a filter that does only what the protocol
 * needs to handle mail the way sms-milter does, and nothing of its work (no policy, no text,
 * no outbox, no fsync). It negotiates the same steps and no-reply flags as sms-milter, notes
 * at RCPT whether a recipient is in the gateway domain, steps aside at DATA when none is, and
 * otherwise takes the headers and body without replies and, at end of message, removes the
 * SMS recipients and accepts (what sms-milter does with Postfix). What Postfix and this
 * filter cost together is what any libmilter filter of that shape costs: the ceiling for
 * sms-milter on this machine.
 *
 * usage: null_milter unix:PATH GATEWAY-DOMAIN   (the socket is made mode 0666)
 */
#define _POSIX_C_SOURCE 200809L
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_SMS 64

struct message {
	int count;
	char *rcpts[MAX_SMS];
};

static const char *gateway;

static void forget(SMFICTX *ctx)
{
	struct message *m = smfi_getpriv(ctx);
	if (m == NULL)
		return;
	for (int i = 0; i < m->count; i++)
		free(m->rcpts[i]);
	free(m);
	smfi_setpriv(ctx, NULL);
}

static sfsistat negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			  unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			  unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx, (void)f0, (void)f2, (void)f3;
	*pf0 = SMFIF_DELRCPT;
	*pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NOEOH | SMFIP_NR_CONN |
		     SMFIP_NR_MAIL | SMFIP_NR_HDR | SMFIP_NR_BODY);
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)ctx, (void)host, (void)addr;
	return SMFIS_NOREPLY;
}

static sfsistat on_mail(SMFICTX *ctx, char **argv)
{
	(void)argv;
	forget(ctx);
	smfi_setpriv(ctx, calloc(1, sizeof(struct message)));
	return SMFIS_NOREPLY;
}

static sfsistat on_rcpt(SMFICTX *ctx, char **argv)
{
	struct message *m = smfi_getpriv(ctx);
	const char *at = argv[0] != NULL ? strrchr(argv[0], '@') : NULL;
	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (at != NULL && strncasecmp(at + 1, gateway, strlen(gateway)) == 0 &&
	    m->count < MAX_SMS)
		m->rcpts[m->count++] = strdup(argv[0]);
	return SMFIS_CONTINUE;
}

static sfsistat on_data(SMFICTX *ctx)
{
	struct message *m = smfi_getpriv(ctx);
	return m != NULL && m->count > 0 ? SMFIS_CONTINUE : SMFIS_ACCEPT;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx, (void)name, (void)value;
	return SMFIS_NOREPLY;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx, (void)chunk, (void)len;
	return SMFIS_NOREPLY;
}

static sfsistat on_eom(SMFICTX *ctx)
{
	struct message *m = smfi_getpriv(ctx);
	for (int i = 0; m != NULL && i < m->count; i++)
		smfi_delrcpt(ctx, m->rcpts[i]);
	forget(ctx);
	return SMFIS_ACCEPT;
}

/* Abort and close both end the message. */
static sfsistat on_end(SMFICTX *ctx)
{
	forget(ctx);
	return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
	struct smfiDesc desc = {
		.xxfi_name = "null-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_DELRCPT,
		.xxfi_connect = on_connect,
		.xxfi_envfrom = on_mail,
		.xxfi_envrcpt = on_rcpt,
		.xxfi_header = on_header,
		.xxfi_body = on_body,
		.xxfi_eom = on_eom,
		.xxfi_abort = on_end,
		.xxfi_close = on_end,
		.xxfi_data = on_data,
		.xxfi_negotiate = negotiate,
	};
	if (argc != 3 || strncmp(argv[1], "unix:", 5) != 0) {
		fprintf(stderr, "usage: null_milter unix:PATH GATEWAY-DOMAIN\n");
		return 2;
	}
	gateway = argv[2];
	if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS || chmod(argv[1] + 5, 0666) != 0) {
		fprintf(stderr, "null_milter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
