from _hello import text_app

app = text_app("load_app_only:app")
