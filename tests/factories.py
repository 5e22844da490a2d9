"""factory_boy factories shared by the tests."""

import factory
from django.contrib.auth import get_user_model


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"sre{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@tier0.example")
    password = factory.django.Password("correct-horse-battery")
