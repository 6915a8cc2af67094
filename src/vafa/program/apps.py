from django.apps import AppConfig


class Config(AppConfig):
    name = "vafa.program"
    label = "program"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # App loading: program.services imports models, so the receiver is connected once the registry is ready.
        from vafa.program.services import give_starter_program
        from vafa.tenancy.signals import business_created

        business_created.connect(give_starter_program, dispatch_uid="program.starter")
