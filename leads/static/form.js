// The page that answered a form post (an error, or a stamp to renew) becomes
// a plain entry in the history: Back from the thank-you page then loads the
// form afresh instead of offering to post the old one again.
if (window.history && window.history.replaceState) {
  window.history.replaceState(null, "", window.location.href);
}
