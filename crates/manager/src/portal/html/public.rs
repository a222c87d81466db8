//! The pages without a session: log-in and the "Request a Smart Account" form.

use super::{csrf_field, escape, flash, page};

/// The log-in page.
pub(crate) fn login(csrf: &str, email: &str, message: Option<&str>) -> String {
    let msg = message.map(|m| flash("error", m)).unwrap_or_default();
    page(
        "Log in",
        None,
        &format!(
            "<section class=\"card login\"><h1>smartlic license manager</h1>{msg}\
             <form method=\"post\" action=\"/login\">{}\
             <label>E-mail <input type=\"email\" name=\"email\" value=\"{}\" required autofocus autocomplete=\"username\"></label>\
             <label>Password <input type=\"password\" name=\"password\" required autocomplete=\"current-password\"></label>\
             <button type=\"submit\">Log in</button></form>\
             <p class=\"hint\">No Smart Account yet? <a href=\"/request-account\">Request a Smart Account</a></p></section>",
            csrf_field(csrf),
            escape(email)
        ),
    )
}

/// What the "Request a Smart Account" form shows again after a refusal (never the password).
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestFields<'a> {
    /// `yes` or `no` (Create Account).
    pub create: &'a str,
    /// The person who will create the account ("No").
    pub on_behalf_email: &'a str,
    /// Account domain identifier.
    pub domain: &'a str,
    /// Account name.
    pub name: &'a str,
    /// The requester's e-mail.
    pub requester_email: &'a str,
}

/// The public "Request a Smart Account" page: the seed's Create Account and Account Information
/// sections; `errors` are (field, message) shown beside their fields.
pub(crate) fn request_account(
    csrf: &str,
    f: &RequestFields<'_>,
    errors: &[(&str, String)],
    message: Option<&str>,
) -> String {
    let err = |field: &str| {
        errors
            .iter()
            .filter(|(k, _)| *k == field)
            .map(|(_, m)| format!("<span class=\"flash error field-error\">{}</span>", escape(m)))
            .collect::<String>()
    };
    let msg = message.map(|m| flash("error", m)).unwrap_or_default();
    let checked = |v: &str| if f.create == v { " checked" } else { "" };
    page(
        "Request a Smart Account",
        None,
        &format!(
            "<section class=\"card login\"><h1>Request a Smart Account</h1>{msg}\
             <p>A Smart Account holds your company's licences, product instances and users. \
             Your request stays pending until the operator of this license manager approves it.</p>\
             <form method=\"post\" action=\"/request-account\">{csrf}\
             <fieldset><legend>Create Account</legend>{create_err}\
             <label><input type=\"radio\" name=\"create\" value=\"yes\"{yes}> Yes, I have authority to represent my company \
             and want to create the Smart Account</label>\
             <label><input type=\"radio\" name=\"create\" value=\"no\"{no}> No, the person specified below will create the account</label>\
             <label>E-mail of the person who will create the account \
             <input type=\"email\" name=\"on_behalf_email\" value=\"{on_behalf}\" maxlength=\"254\"></label>{on_behalf_err}</fieldset>\
             <fieldset><legend>Account Information</legend>\
             <label>Account Domain Identifier <input type=\"text\" name=\"domain\" value=\"{domain}\" maxlength=\"253\" \
             placeholder=\"default: the domain of your e-mail address\"></label>{domain_err}\
             <label>Account Name <input type=\"text\" name=\"name\" value=\"{name}\" maxlength=\"100\" required \
             placeholder=\"typically, the company name\"></label>{name_err}</fieldset>\
             <fieldset><legend>You</legend>\
             <label>Your e-mail <input type=\"email\" name=\"requester_email\" value=\"{requester}\" maxlength=\"254\" required \
             autocomplete=\"email\"></label>{requester_err}\
             <label>Portal password of the account's administrator (8 characters or more) \
             <input type=\"password\" name=\"password\" minlength=\"8\" maxlength=\"1024\" required autocomplete=\"new-password\"></label>{password_err}\
             </fieldset><button type=\"submit\">Continue</button></form>\
             <p class=\"hint\"><a href=\"/login\">Back to log-in</a></p></section>",
            csrf = csrf_field(csrf),
            create_err = err("create"),
            yes = checked("yes"),
            no = checked("no"),
            on_behalf = escape(f.on_behalf_email),
            on_behalf_err = err("on_behalf_email"),
            domain = escape(f.domain),
            domain_err = err("domain"),
            name = escape(f.name),
            name_err = err("name"),
            requester = escape(f.requester_email),
            requester_err = err("requester_email"),
            password_err = err("password"),
        ),
    )
}

/// The page after a request was stored.
pub(crate) fn request_submitted(name: &str, domain: &str, admin_email: &str) -> String {
    page(
        "Smart Account requested",
        None,
        &format!(
            "<section class=\"card login\"><h1>Smart Account requested</h1>\
             {}<p>The request for the Smart Account <strong>{}</strong> ({}) is <strong>pending</strong> \
             until the operator of this license manager approves it. Then {} can log in with the \
             password you chose.</p><p><a href=\"/login\">Back to log-in</a></p></section>",
            flash("info", "Your Smart Account request is pending approval."),
            escape(name),
            escape(domain),
            escape(admin_email)
        ),
    )
}
