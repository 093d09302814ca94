from django.apps import AppConfig


class AutopopulateConfig(AppConfig):
    name = "evalloop.autopopulate"
    label = "autopopulate"

    def ready(self) -> None:
        from evalloop.autopopulate import kicks
        from evalloop.chat.signals import traffic_changed

        # Committed traffic kicks the ticks of the rules watching it (autopopulate/kicks.py).
        traffic_changed.connect(kicks.traffic_changed, dispatch_uid="autopopulate-kicks")
