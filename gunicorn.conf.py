# gunicorn reads this file from the working directory: `gunicorn wsgi:app`.

# Escaped access-log atoms, and gunicorn's own 400/414/431 answered as problem+json (registry/serving.py).
logger_class = "registry.serving.Logger"
