// The OAuth popup is done: the main page learns of the token from its event stream.
setTimeout(() => window.close(), 1200);
