package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orgscope/orgscope/store/sqlite"
)

const backupAbout = `
SQLite: writes a consistent copy of the database to FILE while the server
runs (VACUUM INTO: a snapshot of one read transaction, blocking no writer),
created 0600; an existing FILE is refused unless --force.

PostgreSQL: prints the pg_dump command that copies OrgScope's schema, and
how to restore it; pg_dump takes a consistent snapshot while replicas run.

The copy holds the issuer's signing keys, client-secret and password hashes,
grants, refresh-token hashes and the audit trail: keep it as secret as the
live database.`

func (c cli) backup(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	var force bool
	cmd := newCommand("backup", "orgscope backup FILE [--force] [--db orgscope.db | --database-url postgres://…]")
	cmd.about = backupAbout
	cmd.positional, cmd.missing = "FILE", "need the FILE to write the backup to"
	cmd.fs.BoolVar(&force, "force", false, "replace FILE if it exists (SQLite)")
	storeFlags(cmd.fs, &cfg)
	if err := cmd.parse(args, c.stdout, c.getenv); err != nil {
		return err
	}
	file := cmd.arg
	if err := cfg.checkDatabase(); err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return c.printPgDump(cfg, file)
	}
	if _, err := os.Stat(cfg.DBPath); err != nil {
		return fmt.Errorf("no database to back up at %s (%s): %w", cfg.DBPath, flagRef("db"), err)
	}
	err := sqlite.Backup(ctx, cfg.DBPath, file, &sqlite.BackupOptions{Overwrite: force})
	if errors.Is(err, sqlite.ErrBackupExists) {
		return fmt.Errorf("%s exists; choose another file, or --force to replace it", file)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "backed up %s to %s (mode 0600)\n"+
		"It holds signing keys, secret and password hashes, grants and the audit trail: keep it as secret as the database.\n"+
		"To restore: stop the server, copy %s over %s (and remove any %s-wal and %s-shm), start the server.\n",
		cfg.DBPath, file, file, cfg.DBPath, cfg.DBPath, cfg.DBPath)
	return nil
}

// libpqParams are the connection parameters pg_dump understands; the
// others a pgx URL may carry (pool sizes, search_path) would make it fail.
var libpqParams = map[string]bool{
	"sslmode": true, "sslrootcert": true, "sslcert": true, "sslkey": true, "sslcrl": true,
	"connect_timeout": true, "application_name": true, "options": true, "target_session_attrs": true,
	"host": true, "port": true, "dbname": true, "user": true, "passfile": true, "sslsni": true,
}

// printPgDump prints the command that backs up OrgScope's schema of a
// PostgreSQL database, with the password left out of the URL.
func (c cli) printPgDump(cfg Config, file string) error {
	pc, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		// The error is not repeated: it may quote the URL, password and all.
		return usageErrorf("%s is not a PostgreSQL URL that pg_dump could use", flagRef("database-url"))
	}
	schema := cfg.DatabaseSchema
	if schema == "" {
		schema = strings.TrimSpace(strings.Split(pc.RuntimeParams["search_path"], ",")[0])
	}
	if schema == "" {
		schema = "public"
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return usageErrorf("%s must be a postgres:// URL to print a pg_dump command", flagRef("database-url"))
	}
	hadPassword := false
	if u.User != nil {
		_, hadPassword = u.User.Password()
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	for k := range q {
		if !libpqParams[k] {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	conn := u.String()
	fmt.Fprintf(c.stdout, `OrgScope's data is in PostgreSQL, schema %[1]s; pg_dump copies it consistently while the replicas run:

  umask 077
  pg_dump --format=custom --no-owner --no-privileges --schema=%[2]s --file=%[3]s %[4]s

`, schema, shellQuote(schema), shellQuote(file), shellQuote(conn))
	if hadPassword {
		fmt.Fprintf(c.stdout, "The password is left out: give it in PGPASSWORD or ~/.pgpass, not on the command line.\n")
	}
	fmt.Fprintf(c.stdout, `To restore, into an empty database (or one without that schema), then start OrgScope with the same --database-schema:

  pg_restore --no-owner --no-privileges --dbname=%[1]s %[2]s

Keep %[2]s as secret as the database: it holds the issuer's signing keys, client-secret
and password hashes, grants, refresh-token hashes and the audit trail.
`, shellQuote(conn), shellQuote(file))
	return nil
}
