/** The `odoo` global of Odoo's web client: the session's CSRF token for plain HTTP routes. */
declare var odoo: { csrf_token?: string } | undefined;
