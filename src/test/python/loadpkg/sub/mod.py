from _hello import text_app

wsgi_app = text_app("loadpkg.sub.mod:wsgi_app")
app = text_app("wrong: app")
application = text_app("wrong: application")
