// The admin token lives in this tab's sessionStorage only: never localStorage (it would outlive
// the tab), never a cookie (the browser would send it by itself), never a URL.
const KEY = "bifrost.token";

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  signIn(token) {
    sessionStorage.setItem(KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(KEY);
  },
};
