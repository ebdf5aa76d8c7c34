from django.urls import path

from patrol.api import views

urlpatterns = [
    path("cases/<int:case_id>/", views.CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/events/", views.CaseEventsView.as_view(), name="case-events"),
    path("cases/<int:case_id>/dispatch-options/", views.DispatchOptionsView.as_view(),
         name="case-dispatch-options"),
    path("cases/<int:case_id>/<str:action>/", views.CaseActionView.as_view(),
         name="case-action"),
    path("tasks/", views.TaskListView.as_view(), name="task-list"),
    path("tasks/<int:task_id>/", views.TaskDetailView.as_view(), name="task-detail"),
    path("office/queue/", views.TriageQueueView.as_view(), name="triage-queue"),
    path("office/queue/bulk/", views.TriageBulkView.as_view(), name="triage-bulk"),
    path("rates/", views.RatesView.as_view(), name="rates"),
]

from patrol.api import notification_views  # noqa: E402  (the in-app feed)

urlpatterns += [
    path("notifications/", notification_views.NotificationListView.as_view(),
         name="notification-list"),
    path("notifications/read/", notification_views.NotificationReadManyView.as_view(),
         name="notification-read-many"),
    path("notifications/<int:notification_id>/read/",
         notification_views.NotificationReadView.as_view(), name="notification-read"),
]

from patrol.api import council_views  # noqa: E402  (the riders' council, issue 18)

urlpatterns += [
    path("council/board/", council_views.CouncilBoardView.as_view(), name="council-board"),
]
