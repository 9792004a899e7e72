x = 1
def app(environ, start_response:   # line 2: SyntaxError
    return []
