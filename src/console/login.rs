//! Signing in and out.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::error::ConsoleError;
use super::layout::page;
use super::session::{self, Session};
use crate::http::AppState;

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
}

#[derive(Deserialize)]
pub struct SignOut {
    csrf: String,
}

/// The sign-in form.
pub async fn form(State(state): State<AppState>) -> Markup {
    login_page(&state, None)
}

fn login_page(state: &AppState, error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            @if state.settings.admin_token.is_none() {
                p.error { "No admin token is configured (TXHOOK_ADMIN_TOKEN): the console is closed." }
            }
            @if let Some(e) = error { p.error #login-error { (e) } }
            form #login method="post" action="/console/login" {
                label for="token" { "Admin token" }
                input #token type="password" name="token" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// Checks the token and starts a session.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, ConsoleError> {
    if !session::same_origin(&headers) {
        return Err(ConsoleError::Forbidden);
    }
    let cookie = session::token_ok(&state, &form.token)
        .then(|| session::new_cookie(&state))
        .flatten();
    match cookie {
        Some(cookie) => {
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/console")).into_response())
        }
        None => {
            metrics::counter!("txhook_console_sign_in_refused_total").increment(1);
            Ok((
                StatusCode::UNAUTHORIZED,
                login_page(&state, Some("That is not the admin token.")),
            )
                .into_response())
        }
    }
}

/// Ends the session, here and for every copy of its cookie.
pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Result<Response, ConsoleError> {
    session.check_form(&headers, &form.csrf)?;
    session.sign_out(&state).await?;
    Ok((
        [(header::SET_COOKIE, session::ended_cookie(&state))],
        Redirect::to("/console/login"),
    )
        .into_response())
}
