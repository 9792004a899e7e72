from _hello import text_app

# --module load_both must pick 'application' over 'app'
app = text_app("load_both:app")
application = text_app("load_both:application")
