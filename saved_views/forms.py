from django import forms

from portal.roles import Role

SHARE_CHOICES = [("", "only me"), *((r.value, f"everyone with the {r.value} role") for r in Role)]


class SaveViewForm(forms.Form):
    name = forms.CharField(max_length=120)
    url = forms.CharField(max_length=2300, widget=forms.HiddenInput)
    shared_with = forms.ChoiceField(choices=SHARE_CHOICES, required=False, label="Share with")


class EditViewForm(forms.Form):
    name = forms.CharField(max_length=120)
    shared_with = forms.ChoiceField(choices=SHARE_CHOICES, required=False, label="Share with")
