"""People who sign in to the web UI: their roles, passwords, second factors and sessions.

    users = Users(database, settings)
    users.create("ada", "admin", password)
    result = users.login("ada", password)         # result.ok, result.message, result.retry_after
    token, session = WebSessions(database, settings).start(result.user, second_factor_done=True)

``roles`` says what each role may do (light: the settings import it);
``users`` holds the accounts and signing in, ``sessions`` the web sessions.
"""
